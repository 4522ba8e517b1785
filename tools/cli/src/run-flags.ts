import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PromoteMode, RunMode, Priority, Purpose, SymbolName, type SymbolSelection, type EventInput } from '@trainyard/contracts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RunFlags {
  request: EventInput<'run.requested'>;
  json: boolean;
  up: boolean;
  waitMinutes: number;
}

const RUN_OPTIONS = {
  symbols: { type: 'string' },
  mode: { type: 'string' },
  'max-concurrent': { type: 'string' },
  date: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  'ensure-features': { type: 'boolean' },
  promote: { type: 'string' },
  canary: { type: 'boolean' },
  priority: { type: 'string' },
  purpose: { type: 'string' },
  'timeout-minutes': { type: 'string' },
  'run-id': { type: 'string' },
  'wait-minutes': { type: 'string' },
  json: { type: 'boolean' },
  up: { type: 'boolean' },
} as const;

export const RUN_FLAGS_HELP = `trainyard run --symbols <list|topN|file.csv> [flags]

  --symbols BTCUSDT,ETHUSDT   a comma-separated list, topN (e.g. top10), or a CSV file with a symbol column
  --mode hybrid               sequential | parallel | hybrid (default hybrid)
  --max-concurrent N          jobs at once in hybrid or parallel mode
  --date YYYY-MM-DD           data date (default: yesterday, UTC)
  --promote off               off | dry | auto (default off)
  --canary                    a canary run: auto promotion is downgraded to dry
  --priority normal           urgent | high | normal | low
  --purpose production        production | search (search trials go after production retraining)
  --timeout-minutes N         per-job timeout (default 45)
  --dry-run                   plan only: jobs, order and forecast; nothing is launched
  --force                     train again what already succeeded
  --ensure-features           store the features each job computes in the feature store when none are there
  --run-id ID                 choose the run id (default: a new one)
  --wait-minutes N            give up following after N minutes (default 720)
  --json                      print the final run record as JSON on stdout
  --up                        start the local stack for this run and stop it afterwards`;

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

function positive(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} must be a positive ${integer ? 'whole number' : 'number'} (got "${value}")`);
  }
  return n;
}

function validDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const d = new Date(`${value}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new UsageError(`--date must be a real date as YYYY-MM-DD (got "${value}")`);
  }
  return value;
}

/** A list, `topN`, or a CSV file read here so the scheduler never opens paths it was sent. */
export function parseSymbols(value: string | undefined): SymbolSelection {
  if (!value) throw new UsageError('--symbols is required: a comma-separated list (BTCUSDT,ETHUSDT), topN (top10) or a CSV file');
  const top = /^top(\d+)$/i.exec(value);
  if (top) return { topN: Number(top[1]) };
  if (/\.csv$/i.test(value) || existsSync(value)) {
    if (!existsSync(value)) throw new UsageError(`--symbols: no such CSV file "${value}"`);
    const rows = readFileSync(value, 'utf8').split(/\r?\n/).map((l) => l.split(',').map((c) => c.trim().replace(/^"|"$/g, ''))).filter((r) => r.some(Boolean));
    const col = rows.length ? rows[0].findIndex((c) => c.toLowerCase() === 'symbol') : -1;
    const list = col >= 0 ? rows.slice(1).map((r) => r[col] ?? '') : rows.map((r) => r[0]);
    if (list.length === 0) throw new UsageError(`--symbols: the CSV file "${value}" lists no symbols`);
    return checked(list);
  }
  return checked(value.split(',').map((s) => s.trim()).filter(Boolean));
}

function checked(list: string[]): string[] {
  for (const s of list) {
    const r = SymbolName.safeParse(s);
    if (!r.success) throw new UsageError(`--symbols: "${s}" is not a symbol (${r.error.issues[0].message})`);
  }
  return list;
}

export function parseRunFlags(argv: string[]): RunFlags {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: RUN_OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    const unknown = /Unknown option '([^']+)'/.exec((err as Error).message);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]}; allowed: ${Object.keys(RUN_OPTIONS).map((k) => `--${k}`).join(', ')}`);
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const request: EventInput<'run.requested'> = {
    trigger: 'cli',
    symbols: parseSymbols(v.symbols),
    mode: oneOf('mode', v.mode, RunMode.options),
    maxConcurrent: positive('max-concurrent', v['max-concurrent'], true),
    date: validDate(v.date),
    dryRun: v['dry-run'] ?? false,
    force: v.force ?? false,
    ensureFeatures: v['ensure-features'] ?? false,
    promote: oneOf('promote', v.promote, PromoteMode.options),
    canary: v.canary ?? false,
    priority: oneOf('priority', v.priority, Priority.options),
    purpose: oneOf('purpose', v.purpose, Purpose.options),
    timeoutMinutes: positive('timeout-minutes', v['timeout-minutes'], false),
    runId: v['run-id'],
  };
  return { request, json: v.json ?? false, up: v.up ?? false, waitMinutes: positive('wait-minutes', v['wait-minutes'], false) ?? 720 };
}
