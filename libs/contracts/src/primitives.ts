import { z } from 'zod';

/** Market symbols end up in object keys and folder names: letters and digits only. */
export const SymbolName = z.string().regex(/^[A-Z0-9]{2,30}$/, 'a symbol is 2-30 upper-case letters or digits (for example BTCUSDT)');

/** Ids appear in NATS subjects and storage keys, so no dots, wildcards, spaces or slashes. */
export const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'an id is 1-128 letters, digits, "_" or "-", starting with a letter or digit');

/** A real calendar date (no 2024-13-45, no 0000-00-00), as YYYY-MM-DD. */
export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s && d.getUTCFullYear() >= 1970;
  }, 'not a calendar date (YYYY-MM-DD, from 1970)');
export const Timestamp = z.string().datetime({ offset: true });

export const Priority = z.enum(['urgent', 'high', 'normal', 'low']);
export type Priority = z.infer<typeof Priority>;
export const PRIORITY_RANK: Record<Priority, number> = { urgent: 0, high: 1, normal: 2, low: 3 };

/** Why a run trains: production retraining goes before hyperparameter search of the same priority. */
export const Purpose = z.enum(['production', 'search']);
export type Purpose = z.infer<typeof Purpose>;

/** The release and lease order of a job: priority first, then production before search. Lower goes first. */
export function releaseRank(priority: Priority, purpose: Purpose): number {
  return PRIORITY_RANK[priority] * 2 + (purpose === 'search' ? 1 : 0);
}

/**
 * A regime specialist: a model trained on the candles of one market regime only. Messages carry it
 * as an optional `variant`; absent is the plain model of the symbol, the default variant.
 */
export const Specialist = z.enum(['bull', 'bear', 'sideways']);
export type Specialist = z.infer<typeof Specialist>;
/** What a run can be asked to train per symbol: `default` names the plain model. */
export const Variant = z.enum(['default', 'bull', 'bear', 'sideways']);
export type Variant = z.infer<typeof Variant>;
export const DEFAULT_VARIANT = 'default' as const;

/**
 * The registry key of a model: the symbol for the default variant (so the plain models' keys, paths
 * and ids are what they always were), `SYMBOL/variant` for a specialist.
 */
export function modelKey(symbol: string, variant?: Variant | null): string {
  return !variant || variant === DEFAULT_VARIANT ? symbol : `${symbol}/${variant}`;
}

/** The specialist a variant names; undefined for the default one. */
export const specialistOf = (variant: Variant | null | undefined): Specialist | undefined => (!variant || variant === DEFAULT_VARIANT ? undefined : variant);

/** How many of a run's jobs train at once (a run's `mode`): one at a time, as many as capacity allows, or a bounded number. */
export const ConcurrencyMode = z.enum(['sequential', 'parallel', 'hybrid']);
export type ConcurrencyMode = z.infer<typeof ConcurrencyMode>;

/** What the promoter does with a run's models (a run's `promote`): nothing, decide and report only, or decide and apply. */
export const PromotionPolicy = z.enum(['off', 'dry', 'auto']);
export type PromotionPolicy = z.infer<typeof PromotionPolicy>;

export const Trigger = z.enum(['cron', 'cli', 'api', 'telegram', 'event']);
export type Trigger = z.infer<typeof Trigger>;

/** A featureset's name; it is a folder in the feature store, so never a path. */
/** A candle's length; a run's history is counted in candles of this length. */
export const Timeframe = z.enum(['1m', '5m', '15m', '1h', '4h', '1d']);
export type Timeframe = z.infer<typeof Timeframe>;

export const FeaturesetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, 'a featureset name: letters, digits, "_" or "-" (at most 40)');

/** A metric's name as MLflow accepts one: letters, digits, "_", "-", ".", " " and "/", at most 250. */
export const MetricKey = z.string().regex(/^[A-Za-z0-9_.\-/ ]{1,250}$/, 'a metric name: letters, digits, "_", "-", ".", " " or "/" (at most 250)');

/** One report of a trainer's metrics at a step (or epoch): loss, the validation metric, anything it reports. */
export const MetricPoint = z.object({
  step: z.number().int().nonnegative(),
  at: Timestamp,
  values: z.record(MetricKey, z.number().finite()).refine((v) => Object.keys(v).length >= 1 && Object.keys(v).length <= 50, 'a point has 1 to 50 metrics'),
});
export type MetricPoint = z.infer<typeof MetricPoint>;

export const Provider = z.enum(['local', 'vast']);
export type Provider = z.infer<typeof Provider>;

export const ErrorType = z.enum([
  'agent_lost',
  'oom',
  'network',
  'storage',
  'timeout',
  'bad_data',
  'trainer_error',
  /** A command job named a trainer its agent does not allow. */
  'not_allowed',
  'cancelled',
  'unknown',
]);
export type ErrorType = z.infer<typeof ErrorType>;

/** Error types worth another attempt: the fault is in the environment, not in the job. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorType> = new Set<ErrorType>(['agent_lost', 'oom', 'network', 'storage', 'timeout', 'unknown']);

export const Sha256 = z.string().regex(/^[a-f0-9]{64}$/, 'a sha256 is 64 lower-case hex digits');

export const Artifact = z.object({
  name: z.string().min(1),
  uri: z.string().min(1),
  sha256: Sha256,
  bytes: z.number().int().nonnegative(),
});
export type Artifact = z.infer<typeof Artifact>;

export const Costs = z.object({
  feeBps: z.number().nonnegative().max(1000),
  spreadBps: z.number().nonnegative().max(1000),
});
export type Costs = z.infer<typeof Costs>;

export const Metrics = z.object({
  directionalHitRate: z.number(),
  sharpe: z.number(),
  maxDrawdown: z.number(),
  totalReturn: z.number(),
  mae: z.number(),
  rmse: z.number(),
  mape: z.number(),
  r2: z.number(),
});
export type Metrics = z.infer<typeof Metrics>;
