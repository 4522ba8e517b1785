import { existsSync, readFileSync } from 'node:fs';
import { SymbolName, symbolsFromCsv, type EventInput, type SymbolSelection } from '@trainyard/contracts';
import { UsageError } from './usage-error';
import { FlagError, parseFlags, positiveFlag, RUN_REQUEST_OPTIONS, runRequestFromFlags, symbolSelection } from '@trainyard/run-flags';

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

/**
 * A list, `topN`, or a CSV file read here, on the caller's machine: a request carries symbols, never
 * a path. Left out, the request has none and the scheduler trains its daily set.
 */
export function parseSymbols(value: string | undefined): SymbolSelection | undefined {
  if (value === undefined) return undefined;
  if (!value) throw new UsageError('--symbols is empty: give a comma-separated list (BTCUSDT,ETHUSDT), topN (top10) or a CSV file, or leave it out for the daily set');
  if (/\.csv$/i.test(value)) {
    if (!existsSync(value)) throw new UsageError(`--symbols: no such CSV file "${value}"`);
    // In any case, as on the command line and in the bot.
    const list = symbolsFromCsv(readFileSync(value, 'utf8')).map((s) => s.toUpperCase());
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
    if (err instanceof FlagError) throw new UsageError(err.message);
    throw err;
  }
}
