import { z } from 'zod';
import { Costs, FeaturesetName, Id, IsoDate, Priority, Purpose, Sha256, Specialist, SymbolName, Timeframe } from './primitives';

export const BuiltinDriver = z.object({ kind: z.literal('builtin') }).strict();

/** A trainer an agent's operator allowed (AGENT_TRAINERS maps the name to a command line on that agent). */
export const TrainerName = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a trainer name: a lower-case letter, then up to 39 lower-case letters, digits, "_" or "-"');

/** An argument for an allowed trainer: a flag or a value, never a path or anything a shell would read. */
export const TrainerArg = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_.,:=+%@-]+$/, 'letters, digits and _ . , : = + % @ - only (no paths, spaces or shell characters)')
  .refine((a) => !a.includes('..'), 'no ".."');

/**
 * A trainer named, never a command line: requests come from the bus and the APIs, and what runs on
 * an agent is only ever what its operator allowed there.
 */
export const CommandDriver = z
  .object({
    kind: z.literal('command'),
    trainer: TrainerName,
    args: z.array(TrainerArg).max(32).default([]),
  })
  .strict();
export const Driver = z.discriminatedUnion('kind', [BuiltinDriver, CommandDriver]);
export type Driver = z.infer<typeof Driver>;

export const ModelConfig = z.object({
  type: z.literal('logistic'),
  learningRate: z.number().positive(),
  epochs: z.number().int().positive(),
  seed: z.number().int(),
});
export type ModelConfig = z.infer<typeof ModelConfig>;

export const Resources = z.object({
  gpuMemoryGb: z.number().nonnegative(),
  cpus: z.number().int().positive(),
});
export type Resources = z.infer<typeof Resources>;

/** A checkpoint in the artifact store: `key` is where agents fetch it from, `uri` is for people. */
export const CheckpointRef = z.object({ uri: z.string().min(1), sha256: Sha256, key: z.string().min(1).optional() });
export type CheckpointRef = z.infer<typeof CheckpointRef>;

/** How many checkpoints before the latest a job keeps to fall back to. */
export const EARLIER_CHECKPOINTS = 4;

/**
 * The deterministic part of a job: the same run inputs give the same object, byte for byte once
 * serialised with {@link canonicalJson}. Attempt-specific fields live beside it in {@link JobSpec}.
 * It holds what the broker and the agent need to place and train the job; how its model is promoted
 * stays with the run, where the promoter asks for it (the scheduler's runs.jobs answer).
 */
export const JobDefinition = z.object({
  jobId: Id,
  runId: Id,
  symbol: SymbolName,
  date: IsoDate,
  featureset: FeaturesetName,
  timeframe: Timeframe,
  lookbackCandles: z.number().int().min(200).max(1_000_000),
  model: ModelConfig,
  costs: Costs,
  driver: Driver,
  resources: Resources,
  timeoutMinutes: z
    .number()
    .positive()
    .max(7 * 24 * 60),
  priority: Priority,
  purpose: Purpose,
  /**
   * Store the features this job computes in the feature store (`features/<featureset>/<symbol>/<date>.parquet`)
   * when none are there, for every later job. Absent means false; it changes where features come
   * from, never the model, so the training hash leaves it out.
   */
  ensureFeatures: z.boolean().optional(),
  /**
   * A regime specialist: trained on that regime's candles only and registered as `SYMBOL/variant`.
   * Absent for the plain model, so plain jobs' spec and training hashes stay what they were.
   */
  variant: Specialist.optional(),
});
export type JobDefinition = z.infer<typeof JobDefinition>;

export const JobSpec = JobDefinition.extend({
  specHash: Sha256,
  attempt: z.number().int().min(1),
  resumeFrom: CheckpointRef.optional(),
  /**
   * The job's checkpoints before `resumeFrom`, newest first, as the scheduler recorded them: an
   * attempt whose `resumeFrom` is corrupt or gone falls back to the newest of these that checks out.
   */
  earlierCheckpoints: z.array(CheckpointRef).max(EARLIER_CHECKPOINTS).optional(),
  /** Scales the trainer's batch size: halved for each earlier attempt that ran out of memory. */
  batchSizeFactor: z.number().positive().max(1).optional(),
});
export type JobSpec = z.infer<typeof JobSpec>;
