import { z } from 'zod';
import { CheckpointRef, Driver, EARLIER_CHECKPOINTS, JobSpec, ModelConfig } from './job-spec';
import { DECIDED_RUN_STATES, INSTANCE_STATES, type InstanceStatus } from './states';
import {
  Artifact,
  ConcurrencyMode,
  Costs,
  ErrorType,
  FeaturesetName,
  Id,
  IsoDate,
  MetricKey,
  MetricPoint,
  Metrics,
  Priority,
  PromotionPolicy,
  Provider,
  Purpose,
  Sha256,
  Specialist,
  SymbolName,
  Timeframe,
  Timestamp,
  Trigger,
  Variant,
} from './primitives';

export const SCHEMA_VERSION = 1 as const;

/** Fields every message carries; `id` is also sent as Nats-Msg-Id for de-duplication. */
export const Envelope = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  id: z.string().min(1).max(256),
  occurredAt: Timestamp,
});

const event = <T extends z.ZodRawShape>(shape: T) => Envelope.extend(shape);

/** Symbols by name or the top N of the universe; never a file to read (the CLI reads CSV files on the caller's machine). */
export const SymbolSelection = z.union([z.array(SymbolName).min(1).max(5000), z.object({ topN: z.number().int().min(1).max(5000) }).strict()], {
  // Said only when the value is neither shape; a list or a topN with a bad part names that part.
  error: 'a list of symbols (["BTCUSDT","ETHUSDT"]) or {"topN": N}',
});
export type SymbolSelection = z.infer<typeof SymbolSelection>;

export const RunRequested = event({
  runId: Id.optional().describe(
    "The run's id. Unset: `run-` and the first 16 hex digits of the SHA-256 of this message's `id` (a daily cron run: `daily-YYYYMMDD`). " +
      "Every later event of the run (run.planned, run.started, run.completed) carries it, and this message's `id` as `requestId`. " +
      'The same id with the same request is the same run; with another request it is refused: dead-lettered with the fields that differ.',
  ),
  trigger: Trigger,
  date: IsoDate.optional(),
  /** Unset: the scheduler's daily set (SCHEDULER_DAILY_SYMBOLS); a request without symbols where none is configured is refused. */
  symbols: SymbolSelection.optional(),
  mode: ConcurrencyMode.default('hybrid'),
  maxConcurrent: z.number().int().min(1).max(10_000).optional(),
  priority: Priority.default('normal'),
  purpose: Purpose.default('production'),
  promote: PromotionPolicy.default('off'),
  canary: z.boolean().default(false),
  force: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  featureset: FeaturesetName.default('fs1'),
  /** Each job stores the features it computes in the feature store when none are there (`--ensure-features`). */
  ensureFeatures: z.boolean().default(false),
  driver: Driver.default({ kind: 'builtin' }),
  /** GPU memory each job needs; unset: none for the built-in trainer, the configured default for commands where GPUs exist. */
  gpuMemoryGb: z.number().nonnegative().max(1024).optional(),
  timeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
  /** The built-in trainer's settings where they differ from the defaults (a study's best trial, trained for production). */
  model: ModelConfig.omit({ type: true }).partial().strict().optional(),
  /** Candles each job trains on, where it differs from the scheduler's SCHEDULER_LOOKBACK_CANDLES. */
  lookbackCandles: z.number().int().min(200).max(1_000_000).optional(),
  /** The candles' length, where it differs from the scheduler's SCHEDULER_TIMEFRAME. */
  timeframe: Timeframe.optional(),
  /**
   * What to train per symbol: `default` is the plain model, `bull`, `bear`, `sideways` regime
   * specialists. Unset: the plain model only. `[bull, bear]` trains the two specialists and not the plain model.
   */
  variants: z
    .array(Variant)
    .min(1)
    .max(4)
    .refine((v) => new Set(v).size === v.length, 'each variant once')
    .optional(),
  requestedBy: z.string().max(200).optional(),
});

/**
 * A hyperparameter study, as the scheduler's POST /studies takes one. The space and pruner are checked
 * by the scheduler (the search library's rules), which dead-letters a study it cannot run with the
 * reasons; the same `studyId` with the same request is the same study, with another it is refused.
 * The study's run has the study's id: its run.completed says when it is done.
 */
export const StudyRequested = event({
  studyId: Id,
  symbol: SymbolName,
  /** Parameter name to `{type: float|int|categorical, …}`: see the README's Studies section. */
  space: z.record(z.string().max(64), z.unknown()),
  trials: z.number().int().min(1).max(1000),
  parallel: z.number().int().min(1).max(100).default(2),
  sampler: z.enum(['tpe', 'random', 'grid']).default('tpe'),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  /** `{type: none|median|successiveHalving|hyperband, …}`; none by default. */
  pruner: z.record(z.string().max(64), z.unknown()).optional(),
  pruneMetric: MetricKey.optional(),
  objective: z.enum(['sharpe', 'directionalHitRate', 'totalReturn', 'r2', 'maxDrawdown', 'mae', 'rmse', 'mape']).optional(),
  direction: z.enum(['maximize', 'minimize']).optional(),
  date: IsoDate.optional(),
  featureset: FeaturesetName.optional(),
  driver: Driver.optional(),
  timeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60)
    .optional(),
  requestedBy: z.string().max(200).optional(),
});

export const PlannedJob = z.object({
  jobId: Id,
  symbol: SymbolName,
  /** A regime specialist; absent for the plain model. */
  variant: Specialist.optional(),
  priority: Priority,
  specHash: Sha256,
  /** What the resume ledger keys on: identical for identical training inputs, whatever run asks (absent in plans made before it was announced). */
  trainingHash: Sha256.optional(),
});
export const SkippedSymbol = z.object({ symbol: z.string(), reason: z.string() });
export const Forecast = z.object({
  gpuHours: z.number().nonnegative(),
  cost: z.number().nonnegative(),
  wallMinutes: z.number().nonnegative(),
});

export const RunPlanned = event({
  runId: Id,
  /** The `id` of the run.requested that asked for this run, so its sender finds the run. */
  requestId: z.string().min(1).max(256).optional(),
  date: IsoDate,
  /** The jobs in release order; when the whole plan does not fit one message, the first ones (see `planUri`). */
  jobs: z.array(PlannedJob),
  skipped: z.array(SkippedSymbol),
  forecast: Forecast,
  dryRun: z.boolean(),
  /** Jobs left out of `jobs` so the message fits the bus's max_payload; absent when none were. */
  jobsOmitted: z.number().int().positive().optional(),
  /** Entries left out of `skipped` for the same reason; absent when none were. */
  skippedOmitted: z.number().int().positive().optional(),
  /** Where the whole plan is stored (`{ jobs, skipped }`), when anything was left out. */
  planUri: z.string().min(1).optional(),
});

export const RunStarted = event({
  runId: Id,
  /** The `id` of the run.requested that asked for this run, so its sender finds the run. */
  requestId: z.string().min(1).max(256).optional(),
  date: IsoDate,
  trigger: Trigger,
  mode: ConcurrencyMode,
  maxConcurrent: z.number().int().positive(),
  totalJobs: z.number().int().nonnegative(),
  symbols: z.array(SymbolName),
});

export const SymbolOutcome = z.object({
  status: z.enum(['succeeded', 'failed', 'skipped', 'cancelled']),
  attempts: z.number().int().nonnegative(),
  trainMinutes: z.number().nonnegative().nullable(),
  metrics: Metrics.nullable(),
  error: z.string().nullable(),
});
export const VariantOutcomes = z.object({
  total: z.number().int().nonnegative(),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  cancelled: z.number().int().nonnegative(),
});
export const RunSummary = z.object({
  total_symbols: z.number().int().nonnegative(),
  succeeded: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  cancelled: z.number().int().nonnegative(),
  avg_train_minutes: z.number().nonnegative(),
  median_train_minutes: z.number().nonnegative(),
  total_wall_minutes: z.number().nonnegative(),
  /** Work cost: the run's leases, each at its GPU's price for the attempt's seconds. */
  cost: z.number().nonnegative(),
  /**
   * Spend: what the GPU provider billed for the instances destroyed so far, in the share attributed
   * to this run (instance.destroyed's `runs`); boot, bootstrap, idle tail and failed instances
   * included. Instances often go after the run completed, so the stored summary keeps growing.
   */
  spend: z.number().nonnegative().optional(),
  /** By registry key: the symbol for a plain model, `SYMBOL/variant` for a specialist. */
  by_symbol: z.record(z.string(), SymbolOutcome),
  /**
   * Entries left out of `by_symbol` so that run.completed fits the bus's max_payload (the first keys in
   * order are kept); the whole summary is at the message's `summaryUri` and in the run's REST view.
   */
  by_symbol_omitted: z.number().int().positive().optional(),
  /** The outcomes counted per variant (`default` is the plain model); only in runs that train specialists. */
  by_variant: z.partialRecord(Variant, VariantOutcomes).optional(),
});
export type RunSummary = z.infer<typeof RunSummary>;

export const RunStatus = z.enum(DECIDED_RUN_STATES);
export type RunStatus = z.infer<typeof RunStatus>;

export const RunCompleted = event({
  runId: Id,
  /** The `id` of the run.requested that asked for this run, so its sender finds the run. */
  requestId: z.string().min(1).max(256).optional(),
  date: IsoDate,
  status: RunStatus,
  summary: RunSummary,
  summaryUri: z.string().nullable(),
});

export const JobRequested = event({ spec: JobSpec });

export const Lease = z.object({
  leaseId: Id,
  agentId: Id,
  provider: Provider,
  device: z.string().min(1),
  gpuMemoryGb: z.number().nonnegative(),
  pricePerHour: z.number().nonnegative(),
  startedAt: Timestamp,
  endsBy: Timestamp,
});
export type Lease = z.infer<typeof Lease>;

export const JobLeased = event({
  jobId: Id,
  runId: Id,
  attempt: z.number().int().min(1),
  lease: Lease,
});

export const AgentAssign = event({ spec: JobSpec, lease: Lease });

/** Who asked for a command: an operator (`telegram:<user id>`, a CLI user) or a system. */
export const RequestedBy = z.string().min(1).max(200);

export const JobCancel = event({
  jobId: Id,
  reason: z.string().min(1).max(500),
  /** Set by operators' commands: the scheduler then also cancels the job if it is still waiting, and answers with command.result. */
  requestedBy: RequestedBy.optional(),
  /**
   * Set by the broker when it takes a lease back (fencing): only this lease is to stop, on the agent
   * named, and its assignment is refused should it arrive later. The job itself is not cancelled.
   */
  leaseId: Id.optional(),
  /** The attempt the fenced lease was for. */
  attempt: z.number().int().min(1).optional(),
  /** The agent that held the fenced lease. */
  agentId: Id.optional(),
});

const attemptRef = {
  jobId: Id,
  runId: Id,
  symbol: SymbolName,
  attempt: z.number().int().min(1),
};

export const JobStarted = event({
  ...attemptRef,
  agentId: Id,
  leaseId: Id,
  workDir: z.string(),
  /** Where this attempt's files (and its `attempt.log`) go in the artifact store. */
  artifactsPrefix: z.string().min(1).optional(),
  /** The trainer's code: the git commit of a command trainer's folder (`-dirty` when changed), the built-in trainer's package version. */
  codeVersion: z.string().max(200).optional(),
});

export const JobProgress = event({
  ...attemptRef,
  percent: z.number().min(0).max(100),
  epoch: z.number().int().nonnegative().optional(),
  step: z.number().int().nonnegative().optional(),
  loss: z.number().optional(),
  validationMetric: z.number().optional(),
  etaSeconds: z.number().nonnegative().optional(),
  /** Every metric report since the previous job.progress (the bus carries samples; the series is whole), oldest first. */
  points: z.array(MetricPoint).max(500).optional(),
});

export const JobCheckpointed = event({ ...attemptRef, checkpoint: CheckpointRef });

/**
 * Where an attempt handed checkpoints resumed from: the newest that checked out. `skipped` names the
 * newer ones that were corrupt or gone (a fallback); without `checkpoint` none was usable and the
 * attempt trains from the first epoch.
 */
export const JobResumed = event({
  ...attemptRef,
  checkpoint: CheckpointRef.optional(),
  skipped: z.array(z.object({ checkpoint: CheckpointRef, reason: z.string().min(1).max(500) })).max(EARLIER_CHECKPOINTS + 1),
});

export const JobSucceeded = event({
  ...attemptRef,
  agentId: Id,
  leaseId: Id,
  date: IsoDate,
  featureset: z.string(),
  costs: Costs,
  artifactsPrefix: z.string().min(1),
  artifacts: z.array(Artifact).min(1),
  /** For a specialist: on its own regime's test bars, what promotion compares. */
  metrics: Metrics,
  /** A regime specialist (the job's variant); absent for the plain model. */
  variant: Specialist.optional(),
  /** A specialist's metrics on every test bar of its test period, its own regime's and the others'. */
  allDataMetrics: Metrics.optional(),
  evaluationWindow: z.object({ from: Timestamp, to: Timestamp, candles: z.number().int().positive() }),
  trainSeconds: z.number().nonnegative(),
  startedAt: Timestamp,
  finishedAt: Timestamp,
});

export const JobFailed = event({
  ...attemptRef,
  agentId: Id.optional(),
  leaseId: Id.optional(),
  errorType: ErrorType,
  retryable: z.boolean(),
  message: z.string().max(4000),
  stackSummary: z.string().max(4000).optional(),
});

export const JobCancelled = event({ ...attemptRef, reason: z.string().max(500) });

/** The scheduler gave a job up: its last attempt failed, or it failed in a way not worth retrying. */
export const JobGaveUp = event({
  ...attemptRef,
  errorType: ErrorType,
  message: z.string().max(4000),
});

export const JobRetrying = event({
  ...attemptRef,
  nextAttempt: z.number().int().min(2),
  delaySeconds: z.number().nonnegative(),
  errorType: ErrorType,
});

export const GpuInfo = z.object({
  index: z.number().int().nonnegative(),
  name: z.string(),
  memoryTotalMb: z.number().nonnegative(),
  memoryUsedMb: z.number().nonnegative(),
  utilization: z.number().min(0).max(100),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

export const AgentHeartbeat = event({
  agentId: Id,
  host: z.string(),
  provider: Provider,
  gpus: z.array(GpuInfo),
  cpuSlots: z.number().int().nonnegative(),
  running: z.array(z.object({ jobId: Id, attempt: z.number().int().min(1), leaseId: Id })),
  startedAt: Timestamp,
});

export const LeaseReleased = event({
  leaseId: Id,
  jobId: Id,
  attempt: z.number().int().min(1),
  agentId: Id,
  seconds: z.number().nonnegative(),
  cost: z.number().nonnegative(),
});

export const LeaseLost = event({
  leaseId: Id,
  jobId: Id,
  runId: Id,
  symbol: SymbolName,
  attempt: z.number().int().min(1),
  agentId: Id,
  reason: z.string(),
});

/** A Vast.ai instance the broker rented, from the moment the API confirmed it. */
const instanceRef = {
  instanceId: z.number().int().positive(),
  label: z.string().max(256),
  gpuName: z.string(),
  numGpus: z.number().int().min(1),
  pricePerHour: z.number().nonnegative(),
  interruptible: z.boolean(),
};
export const InstanceCreated = event({ ...instanceRef, offerId: z.number().int().positive() });
export const InstanceReady = event({ ...instanceRef, agentId: Id, provisionSeconds: z.number().nonnegative() });
/** What an instance cost, split among the runs that caused it: their leases' share of its busy time, or the run that rented it when it never worked. */
export const RunSpend = z.object({ runId: Id, cost: z.number().nonnegative() });
export const InstanceDestroyed = event({
  ...instanceRef,
  reason: z.enum(['idle', 'max_runtime', 'run_completed', 'failed', 'outbid', 'orphan', 'shutdown']),
  detail: z.string().max(2000),
  /** From the create call to the API's confirmation that it is gone. */
  seconds: z.number().nonnegative(),
  /** What the account pays: compute while running plus storage while it existed, at the prices in force. */
  cost: z.number().nonnegative(),
  compute: z.number().nonnegative(),
  storage: z.number().nonnegative(),
  runs: z.array(RunSpend).max(1000),
});
/** One move of an instance along its state machine (libs/contracts states.ts), written before it is announced. */
export const InstanceTransitioned = event({
  row: Id,
  instanceId: z.number().int().positive().nullable(),
  label: z.string().max(256),
  from: z.enum(INSTANCE_STATES as [InstanceStatus, ...InstanceStatus[]]),
  to: z.enum(INSTANCE_STATES as [InstanceStatus, ...InstanceStatus[]]),
  detail: z.string().max(2000),
});
/** Something a person should know about renting: the daily budget is spent, the API refuses the key, a destroy keeps failing. */
export const InstanceAlert = event({
  kind: z.enum(['budget_exhausted', 'auth_failed', 'destroy_failing', 'no_offers', 'provision_failed']),
  message: z.string().max(2000),
  instanceId: z.number().int().positive().nullable(),
});

export const Decision = z.object({
  outcome: z.enum(['promote', 'reject', 'not_comparable', 'skipped']),
  rule: z.string(),
  /** The policy the decision was made under: the run's, with `auto` downgraded to `dry` on a canary run or where PROMOTER_DRY_ONLY is set. */
  mode: PromotionPolicy,
  applied: z.boolean(),
  reason: z.string(),
});
export type Decision = z.infer<typeof Decision>;

/** A version of the model `symbol` (absent variant) or of the specialist `symbol/variant`: numbered per key. */
const modelRef = { symbol: SymbolName, variant: Specialist.optional(), version: z.number().int().min(1), runId: Id, jobId: Id };

export const ModelRegistered = event({ ...modelRef, metrics: Metrics, artifactsPrefix: z.string() });
export const ModelPromoted = event({
  ...modelRef,
  metrics: Metrics,
  productionMetrics: Metrics.nullable(),
  decision: Decision,
  productionUri: z.string().nullable(),
});
export const ModelRejected = event({
  ...modelRef,
  metrics: Metrics,
  productionMetrics: Metrics.nullable(),
  decision: Decision,
});
export const ModelRolledBack = event({ ...modelRef, fromVersion: z.number().int().min(1).nullable(), reason: z.string() });

/** Artifact storage has passed its warning fraction of the configured quota. */
export const StorageQuotaWarning = event({
  bytesUsed: z.number().nonnegative(),
  quotaBytes: z.number().positive(),
  usedFraction: z.number().nonnegative(),
});

/**
 * Operators' commands, as the REST APIs take them: the owning service runs the same code for both
 * and answers each with a command.result.
 */
const reason = z.string().min(1).max(500);
export const RunCancel = event({ runId: Id, reason, requestedBy: RequestedBy });
export const JobRetry = event({ jobId: Id, requestedBy: RequestedBy });
/** `variant` names a specialist's registry (`SYMBOL/variant`); absent or `default`: the plain model's. */
export const ModelPromote = event({ symbol: SymbolName, variant: Variant.optional(), version: z.number().int().min(1), reason: reason.optional(), requestedBy: RequestedBy });
/** Without a version: back to the version that was in production before the current one. */
export const ModelRollback = event({ symbol: SymbolName, variant: Variant.optional(), version: z.number().int().min(1).optional(), reason: reason.optional(), requestedBy: RequestedBy });

/** What became of a command: `commandId` is the command message's id. */
export const CommandResult = event({
  commandId: z.string().min(1).max(256),
  command: z.string().min(1).max(100),
  ok: z.boolean(),
  message: z.string().max(1000),
  requestedBy: RequestedBy.optional(),
});

export const DeadLetter = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  id: z.string(),
  occurredAt: Timestamp,
  subject: z.string(),
  consumer: z.string(),
  reason: z.string(),
  deliveryCount: z.number().int().nonnegative(),
  headers: z.record(z.string(), z.array(z.string())),
  /** The original payload as text; only its beginning when `truncated` (a letter must fit the server's max_payload). */
  data: z.string(),
  /** Set when `data` (and perhaps `headers`) was cut so the letter fits; `dataBytes` and `dataSha256` describe the whole original. */
  truncated: z.literal(true).optional(),
  /** The original payload's size in bytes. */
  dataBytes: z.number().int().nonnegative().optional(),
  /** The original payload's sha256, hex. */
  dataSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
