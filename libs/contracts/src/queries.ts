import { z } from 'zod';
import { Decision, GpuInfo } from './events';
import { ConcurrencyMode, ErrorType, Id, IsoDate, Metrics, PromotionPolicy, Provider, Specialist, SymbolName, Timestamp, Trigger, Variant } from './primitives';
import { JOB_STATES, RUN_STATES } from './states';

/**
 * Questions one service asks another and waits for (NATS request/reply, not JetStream): the bot's
 * /status, /runs, /costs and /models. The owning service answers from its own tables.
 */
export interface QueryContract<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType, N extends string = string> {
  readonly name: N;
  readonly request: Req;
  readonly response: Res;
  /** Which service answers, for messages when none does. */
  readonly answeredBy: string;
}

function query<const N extends string, Req extends z.ZodType, Res extends z.ZodType>(name: N, answeredBy: string, request: Req, response: Res): QueryContract<Req, Res, N> {
  return { name, answeredBy, request, response };
}

const count = z.number().int().nonnegative();

/** Most jobs one runs.jobs question names: their answer fits the default max_payload (1 MB) even with every error message at its longest. */
export const MAX_JOBS_ASKED = 32;

// The states of states.ts, as schemas.
const RunState = z.enum(RUN_STATES);
const JobState = z.enum(JOB_STATES);

/** A run as the scheduler reports it: its jobs counted by status, what it cost so far, when it should end. */
export const RunView = z.object({
  runId: Id,
  date: IsoDate,
  trigger: Trigger,
  status: RunState,
  mode: ConcurrencyMode,
  maxConcurrent: count,
  requestedBy: z.string().nullable(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  completedAt: Timestamp.nullable(),
  totalJobs: count,
  jobs: z.partialRecord(JobState, count),
  /** Work cost: the leases of its finished jobs. */
  cost: z.number().nonnegative(),
  /** Spend: what the GPU provider billed for the instances destroyed so far, in this run's share. */
  spend: z.number().nonnegative().optional(),
  /** Minutes until the last job should finish, from expected durations and progress; null when finished. */
  etaMinutes: z.number().nonnegative().nullable(),
});
export type RunView = z.infer<typeof RunView>;

export const JobView = z.object({
  jobId: Id,
  runId: Id,
  symbol: SymbolName,
  status: JobState,
  attempt: z.number().int().min(1),
  maxAttempts: z.number().int().min(1),
  errorType: ErrorType.nullable(),
  errorMessage: z.string().nullable(),
  /** How the job's model is promoted, as its run requested it (a study's trials: off); the promoter reads it before registering. */
  promote: PromotionPolicy,
  canary: z.boolean(),
});
export type JobView = z.infer<typeof JobView>;

export const CostWindow = z.object({
  since: Timestamp,
  /** Work cost: the leases of the jobs that finished in the window. */
  cost: z.number().nonnegative(),
  /** Jobs that finished in the window, and their train hours. */
  jobs: count,
  trainHours: z.number().nonnegative(),
  runs: count,
  /**
   * Spend: what the GPU provider billed for the instances destroyed in the window (compute while
   * running, storage while they existed), whether or not a run used them.
   */
  spend: z.number().nonnegative().optional(),
  /** Instances destroyed in the window. */
  instances: count.optional(),
});
export type CostWindow = z.infer<typeof CostWindow>;

/** A registered model version, as the promoter reports it. */
export const VersionView = z.object({
  symbol: SymbolName,
  /** A regime specialist's versions are numbered apart from the plain model's; absent for the plain model. */
  variant: Specialist.optional(),
  version: z.number().int().min(1),
  stage: z.enum(['candidate', 'production', 'archived']),
  runId: Id,
  jobId: Id,
  createdAt: Timestamp,
  promotedAt: Timestamp.nullable(),
  metrics: Metrics,
  /** Where the trainer uploaded its files (`<prefix>/metrics.json`, `<prefix>/equity.json`…); gone when pruned. */
  artifactsPrefix: z.string(),
  pruned: z.boolean(),
  /** The automatic decision, with the production version it was compared with. */
  decision: Decision.extend({ productionVersion: z.number().int().min(1).nullable() }).nullable(),
});
export type VersionView = z.infer<typeof VersionView>;

/** An agent as the broker last heard it. */
export const AgentView = z.object({
  agentId: Id,
  provider: Provider,
  host: z.string(),
  status: z.enum(['alive', 'silent']),
  gpus: z.array(GpuInfo),
  cpuSlots: count,
  lastSeenAt: Timestamp,
});
export type AgentView = z.infer<typeof AgentView>;

/** A slot held by a job attempt. */
export const LeaseView = z.object({
  leaseId: Id,
  jobId: Id,
  runId: Id,
  symbol: SymbolName,
  agentId: Id,
  device: z.string(),
  gpuMemoryGb: z.number().nonnegative(),
  pricePerHour: z.number().nonnegative(),
  status: z.enum(['assigned', 'running']),
  startedAt: Timestamp.nullable(),
});
export type LeaseView = z.infer<typeof LeaseView>;

/** A rented instance not yet destroyed. */
export const InstanceView = z.object({
  instanceId: z.number().int().positive().nullable(),
  gpuName: z.string(),
  numGpus: count,
  pricePerHour: z.number().nonnegative(),
  status: z.string(),
  agentId: Id.nullable(),
  createdAt: Timestamp,
});
export type InstanceView = z.infer<typeof InstanceView>;

/** A hyperparameter study as the bot shows it: progress, the best trial, the history and what mattered. */
export const StudyView = z.object({
  id: Id,
  symbol: SymbolName,
  status: z.enum(['running', 'completed', 'cancelled']),
  objective: z.string(),
  direction: z.enum(['maximize', 'minimize']),
  sampler: z.string(),
  pruner: z.string(),
  trialsPlanned: count,
  trials: z.object({ running: count, complete: count, pruned: count, failed: count }),
  best: z.object({ trial: count, value: z.number(), params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) }).nullable(),
  history: z.array(z.object({ trial: count, value: z.number(), best: z.number() })).max(1000),
  importance: z.record(z.string(), z.number()),
});
export type StudyView = z.infer<typeof StudyView>;

/** Every question on the bus. Subjects: `query.<prefix>.<name>` (see querySubject). */
export const Queries = {
  ActiveRuns: query('runs.active', 'scheduler', z.object({}).strict(), z.object({ runs: z.array(RunView), slotsHeld: count })),
  RecentRuns: query('runs.recent', 'scheduler', z.object({ limit: z.number().int().min(1).max(50).default(10) }).strict(), z.object({ runs: z.array(RunView) })),
  /** A run or a job by id: ids of both kinds share one namespace in commands such as /cancel. */
  FindRunOrJob: query(
    'runs.find',
    'scheduler',
    /** `kind` when the asker knows what the id names (the promoter asks about jobs): one lookup instead of two. */
    z.object({ id: Id, kind: z.enum(['run', 'job']).optional() }).strict(),
    z.object({ run: RunView.nullable(), job: JobView.nullable() }),
  ),
  /**
   * Jobs by id, as runs.find answers each (those the scheduler does not know are left out): the
   * promoter asks for the jobs of the successes it is handling together, in one question.
   */
  FindJobs: query('runs.jobs', 'scheduler', z.object({ ids: z.array(Id).min(1).max(MAX_JOBS_ASKED) }).strict(), z.object({ jobs: z.array(JobView) })),
  FindStudy: query('studies.find', 'scheduler', z.object({ id: Id }).strict(), z.object({ study: StudyView.nullable() })),
  /** Work cost of jobs finished, and spend of instances destroyed, since midnight UTC and since Monday 00:00 UTC. */
  Costs: query('runs.costs', 'scheduler', z.object({}).strict(), z.object({ today: CostWindow, week: CostWindow })),
  ModelVersions: query(
    'models.versions',
    'promoter',
    z.object({ symbol: SymbolName, variant: Variant.optional(), limit: z.number().int().min(1).max(200).default(30) }).strict(),
    z.object({ symbol: SymbolName, variant: Specialist.optional(), total: count, versions: z.array(VersionView) }),
  ),
  /** What the broker holds now: agents (alive ones, and silent ones still holding leases), leases, rented instances. */
  ActiveLeases: query('leases.active', 'gpu-broker', z.object({}).strict(), z.object({ agents: z.array(AgentView), leases: z.array(LeaseView), instances: z.array(InstanceView) })),
  /**
   * The versions a run registered, each with the version that was in production when it was decided,
   * and their decisions counted. A large run's answer carries the versions that fit one message
   * (promoted ones first, then refused, then the rest; listed in symbol order) and says how many it
   * left out; the counts are always whole.
   */
  RunModels: query(
    'models.of_run',
    'promoter',
    z.object({ runId: Id }).strict(),
    z.object({
      versions: z.array(VersionView.extend({ baseline: VersionView.nullable() })),
      total: count,
      decided: count,
      outcomes: z.object({ promoted: count, wouldPromote: count, rejected: count, notComparable: count, skipped: count }),
      omitted: count,
    }),
  ),
} as const;

export type Queries = typeof Queries;
type QueryByName = { [K in keyof Queries as Queries[K]['name']]: Queries[K] };
export type QueryName = keyof QueryByName;
export type QueryRequest<N extends QueryName> = z.output<QueryByName[N]['request']>;
export type QueryRequestInput<N extends QueryName> = z.input<QueryByName[N]['request']>;
export type QueryResponse<N extends QueryName> = z.output<QueryByName[N]['response']>;
export type QueryResponseInput<N extends QueryName> = z.input<QueryByName[N]['response']>;

/** What travels back: the answer, or why there is none. */
export const QueryReply = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), result: z.unknown() }), z.object({ ok: z.literal(false), error: z.string() })]);
export type QueryReply = z.infer<typeof QueryReply>;

const queriesByName = new Map<string, QueryContract>(Object.values(Queries).map((q) => [q.name, q as QueryContract]));

export function queryFor(name: string): QueryContract {
  const q = queriesByName.get(name);
  if (!q) throw new Error(`unknown query "${name}"`);
  return q;
}

export function allQueries(): QueryContract[] {
  return [...queriesByName.values()];
}

/**
 * Outside the `<prefix>.>` stream on purpose: a request on a stream subject would be stored, and
 * JetStream's publish acknowledgement would race the service's answer to the reply inbox.
 */
export const querySubject = (prefix: string, name: string) => `query.${prefix}.${name}`;
