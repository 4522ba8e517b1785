import { existsSync, readFileSync } from 'node:fs';
import { FlagError, SymbolName, parseFlags, positiveFlag, RUN_REQUEST_OPTIONS, runRequestFromFlags, symbolSelection, symbolsFromCsv, type EventInput, type SymbolSelection } from '@trainyard/contracts';

export class UsageError extends FlagError {
  override readonly name = 'UsageError';
}

export interface RunFlags {
  request: EventInput<'run.requested'>;
  json: boolean;
  up: boolean;
  waitMinutes: number;
  promotionWaitSeconds: number;
}

const RUN_OPTIONS = {
  symbols: { type: 'string' },
  ...RUN_REQUEST_OPTIONS,
  'wait-minutes': { type: 'string' },
  'promotion-wait-seconds': { type: 'string' },
  json: { type: 'boolean' },
  up: { type: 'boolean' },
} as const;

export const RUN_FLAGS_HELP = `trainyard run [--symbols <list|topN|file.csv>] [flags]

  --symbols BTCUSDT,ETHUSDT   a comma-separated list, topN (e.g. top10), or a CSV file with a symbol column;
                              left out: the scheduler's daily set (SCHEDULER_DAILY_SYMBOLS)
  --mode hybrid               sequential | parallel | hybrid (default hybrid)
  --max-concurrent N          jobs at once in hybrid or parallel mode
  --date YYYY-MM-DD           data date (default: yesterday, UTC)
  --promote off               off | dry | auto (default off)
  --canary                    a canary run: auto promotion is downgraded to dry
  --live                      the opposite of --canary (the default): auto promotion is applied
  --priority normal           urgent | high | normal | low
  --purpose production        production | search (search trials go after production retraining)
  --timeout-minutes N         per-job timeout (default 45)
  --dry-run                   plan only: jobs, order and forecast; nothing is launched
  --force                     train again what already succeeded
  --ensure-features           store the features each job computes in the feature store when none are there
  --featureset NAME           the features to train on (default fs1)
  --lookback-candles N        candles of history each job trains on (default: the scheduler's SCHEDULER_LOOKBACK_CANDLES)
  --timeframe 1h              1m | 5m | 15m | 1h | 4h | 1d (default: the scheduler's SCHEDULER_TIMEFRAME)
  --variants default,bull     what to train per symbol: default (the plain model), bull, bear, sideways (regime
                              specialists, each registered and promoted as SYMBOL/variant); only what is listed
                              trains, so --variants bull,bear trains no plain model (default: the plain model only)
  --driver builtin            builtin | command (default builtin)
  --trainer NAME              with --driver command: a trainer the agents allow (AGENT_TRAINERS), e.g. pytorch
  --trainer-arg ARG           an argument for the trainer (repeatable), e.g. --trainer-arg=--epochs=20
  --gpu-memory-gb N           GPU memory each job needs
  --run-id ID                 choose the run id (default: a new one)
  --wait-minutes N            give up following after N minutes (default 720)
  --promotion-wait-seconds N  with --promote dry|auto: wait this long after the run for the promoter's decisions (default 60)
  --help                      this text
  --json                      print the final run record as JSON on stdout
  --up                        start the local stack for this run and stop it afterwards`;

/**
 * A list, `topN`, or a CSV file read here, on the caller's machine: a request carries symbols, never
 * a path. Left out, the request has none and the scheduler trains its daily set.
 */
export function parseSymbols(value: string | undefined): SymbolSelection | undefined {
  if (value === undefined) return undefined;
  if (!value) throw new UsageError('--symbols is empty: give a comma-separated list (BTCUSDT,ETHUSDT), topN (top10) or a CSV file, or leave it out for the daily set');
  if (/\.csv$/i.test(value)) {
    if (!existsSync(value)) throw new UsageError(`--symbols: no such CSV file "${value}"`);
    const list = symbolsFromCsv(readFileSync(value, 'utf8'));
    if (list.length === 0) throw new UsageError(`--symbols: the CSV file "${value}" lists no symbols`);
    // Name the line, never echo the file: it is the caller's, but an error is no place for its content.
    const bad = list.findIndex((s) => !SymbolName.safeParse(s).success);
    if (bad >= 0) throw new UsageError(`--symbols: entry ${bad + 1} of "${value}" is not a symbol (2-30 upper-case letters or digits, e.g. BTCUSDT)`);
    return list;
  }
  return symbolSelection(value);
}

export function parseRunFlags(argv: string[]): RunFlags {
  try {
    const { values: v } = parseFlags(argv, RUN_OPTIONS);
    const symbols = parseSymbols(v.symbols as string | undefined);
    const request: EventInput<'run.requested'> = { trigger: 'cli', ...(symbols ? { symbols } : {}), ...runRequestFromFlags(v) };
    return {
      request,
      json: v.json === true,
      up: v.up === true,
      waitMinutes: positiveFlag('wait-minutes', v['wait-minutes'], false) ?? 720,
      promotionWaitSeconds: positiveFlag('promotion-wait-seconds', v['promotion-wait-seconds'], false) ?? 60,
    };
  } catch (err) {
    if (err instanceof FlagError && !(err instanceof UsageError)) throw new UsageError(err.message);
    throw err;
  }
}
