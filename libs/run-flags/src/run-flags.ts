import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import {
  ConcurrencyMode,
  FeaturesetName,
  Priority,
  PromotionPolicy,
  Purpose,
  SymbolName,
  Timeframe,
  TrainerArg,
  TrainerName,
  Variant,
  type Driver,
  type EventInput,
  SymbolSelection,
} from '@trainyard/contracts';

/**
 * A run request's flags as people type them, shared by the CLI (`trainyard run`) and the Telegram
 * bot (`/run`), so both accept the same flags and refuse bad ones with the same words.
 */
export class FlagError extends Error {
  override readonly name: string = 'FlagError';
}

export const RUN_REQUEST_OPTIONS = {
  mode: { type: 'string' },
  'max-concurrent': { type: 'string' },
  date: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  'ensure-features': { type: 'boolean' },
  promote: { type: 'string' },
  canary: { type: 'boolean' },
  live: { type: 'boolean' },
  priority: { type: 'string' },
  purpose: { type: 'string' },
  'timeout-minutes': { type: 'string' },
  'run-id': { type: 'string' },
  featureset: { type: 'string' },
  'lookback-candles': { type: 'string' },
  timeframe: { type: 'string' },
  driver: { type: 'string' },
  trainer: { type: 'string' },
  'trainer-arg': { type: 'string', multiple: true },
  'gpu-memory-gb': { type: 'string' },
  variants: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Options = NonNullable<ParseArgsConfig['options']>;
export type FlagValues = { [flag: string]: string | boolean | (string | boolean)[] | undefined };

/** parseArgs with the refusals worded for people: an unknown flag is named with the allowed ones. */
export function parseFlags(argv: string[], options: Options, allowPositionals = false): { values: FlagValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as FlagValues, positionals };
  } catch (err) {
    const unknown = /Unknown option '([^']+)'/.exec((err as Error).message);
    if (unknown)
      throw new FlagError(
        `unknown flag ${unknown[1]}; allowed: ${Object.keys(options)
          .map((k) => `--${k}`)
          .join(', ')}`,
      );
    const positional = /Unexpected argument '([^']+)'/.exec((err as Error).message);
    if (positional) throw new FlagError(`unexpected "${positional[1]}"`);
    throw new FlagError((err as Error).message);
  }
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new FlagError(`--${flag} must be one of ${allowed.join(', ')} (got "${String(value)}")`);
  return value as T;
}

export function positiveFlag(flag: string, value: unknown, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new FlagError(`--${flag} must be a positive ${integer ? 'whole number' : 'number'} (got "${String(value)}")`);
  }
  return n;
}

function validDate(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  const d = new Date(`${s}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) {
    throw new FlagError(`--date must be a real date as YYYY-MM-DD (got "${s}")`);
  }
  return s;
}

/** The request fields RUN_REQUEST_OPTIONS set, checked. */
export function runRequestFromFlags(v: FlagValues): Omit<EventInput<'run.requested'>, 'trigger' | 'symbols'> {
  return {
    mode: oneOf('mode', v.mode, ConcurrencyMode.options),
    maxConcurrent: positiveFlag('max-concurrent', v['max-concurrent'], true),
    date: validDate(v.date),
    dryRun: v['dry-run'] === true,
    force: v.force === true,
    ensureFeatures: v['ensure-features'] === true,
    promote: oneOf('promote', v.promote, PromotionPolicy.options),
    canary: canaryFromFlags(v),
    priority: oneOf('priority', v.priority, Priority.options),
    purpose: oneOf('purpose', v.purpose, Purpose.options),
    timeoutMinutes: positiveFlag('timeout-minutes', v['timeout-minutes'], false),
    runId: v['run-id'] === undefined ? undefined : String(v['run-id']),
    featureset: checked('featureset', v.featureset, FeaturesetName),
    lookbackCandles: lookbackFlag(v['lookback-candles']),
    timeframe: oneOf('timeframe', v.timeframe, Timeframe.options),
    driver: driverFromFlags(v),
    gpuMemoryGb: positiveFlag('gpu-memory-gb', v['gpu-memory-gb'], false),
    variants: variantsFlag(v.variants),
  };
}

/**
 * `--variants default,bull,bear`: what to train per symbol, `default` naming the plain model. Without
 * the flag only the plain model trains; with it, only what it lists.
 */
export function variantsFlag(value: unknown): Variant[] | undefined {
  if (value === undefined) return undefined;
  const list = String(value)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new FlagError(`--variants: none given; list some of ${Variant.options.join(', ')}`);
  for (const v of list) {
    if (!Variant.options.includes(v as Variant)) throw new FlagError(`--variants: "${v.length > 20 ? `${v.slice(0, 20)}…` : v}" is not a variant; each must be one of ${Variant.options.join(', ')}`);
  }
  const repeated = list.find((v, i) => list.indexOf(v) !== i);
  if (repeated) throw new FlagError(`--variants: ${repeated} is given twice`);
  return list as Variant[];
}

/** `--live` is the opposite of `--canary`: a run whose auto promotion is applied. */
function canaryFromFlags(v: FlagValues): boolean {
  if (v.canary === true && v.live === true) throw new FlagError('--canary and --live are opposites: give one');
  return v.canary === true;
}

function lookbackFlag(value: unknown): number | undefined {
  const n = positiveFlag('lookback-candles', value, true);
  if (n !== undefined && (n < 200 || n > 1_000_000)) throw new FlagError(`--lookback-candles must be 200..1000000 candles (got ${n})`);
  return n;
}

function checked(flag: string, value: unknown, schema: z.ZodType<string>): string | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) throw new FlagError(`--${flag}: ${r.error.issues[0]?.message ?? r.error.message}`);
  return r.data;
}

/** `--driver command --trainer NAME [--trainer-arg A]…`: a trainer the agents allow, never a command line. */
function driverFromFlags(v: FlagValues): Driver | undefined {
  const kind = oneOf('driver', v.driver ?? (v.trainer !== undefined ? 'command' : undefined), ['builtin', 'command'] as const);
  const args = ((v['trainer-arg'] as string[] | undefined) ?? []).map((a) => checked('trainer-arg', a, TrainerArg)!);
  if (kind === 'command') {
    if (v.trainer === undefined) throw new FlagError('--driver command needs --trainer NAME (a trainer the agents allow in AGENT_TRAINERS)');
    return { kind, trainer: checked('trainer', v.trainer, TrainerName)!, args };
  }
  if (v.trainer !== undefined || args.length) throw new FlagError('--trainer and --trainer-arg go with --driver command');
  return kind ? { kind } : undefined;
}

/** `topN` (top10), or a comma-separated list of symbols in any case (btcusdt is BTCUSDT), each checked. */
export function symbolSelection(value: string, what = '--symbols'): SymbolSelection {
  const top = /^top(\d+)$/i.exec(value.trim());
  if (top) {
    const selection = { topN: Number(top[1]) };
    const r = SymbolSelection.safeParse(selection);
    if (!r.success) throw new FlagError(`${what}: "${value.trim()}" is out of range (${r.error.issues[0]?.message ?? r.error.message})`);
    return selection;
  }
  const typed = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (typed.length === 0) throw new FlagError(`${what}: no symbols given`);
  return typed.map((t) => {
    const r = SymbolName.safeParse(t.toUpperCase());
    // The entry as typed: an upper-cased path or word would only confuse.
    if (!r.success) throw new FlagError(`${what}: "${t.length > 40 ? `${t.slice(0, 40)}…` : t}" is not a symbol (${r.error.issues[0]?.message ?? r.error.message})`);
    return r.data;
  });
}
