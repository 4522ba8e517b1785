"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DeadLetter = exports.ModelRolledBack = exports.ModelRejected = exports.ModelPromoted = exports.ModelRegistered = exports.Decision = exports.LeaseLost = exports.LeaseReleased = exports.AgentHeartbeat = exports.GpuInfo = exports.JobRetrying = exports.JobCancelled = exports.JobFailed = exports.JobSucceeded = exports.JobCheckpointed = exports.JobProgress = exports.JobStarted = exports.JobCancel = exports.AgentAssign = exports.JobLeased = exports.Lease = exports.JobRequested = exports.RunCompleted = exports.RunStatus = exports.RunSummary = exports.SymbolOutcome = exports.RunStarted = exports.RunPlanned = exports.Forecast = exports.SkippedSymbol = exports.PlannedJob = exports.RunRequested = exports.SymbolSelection = exports.Envelope = exports.SCHEMA_VERSION = void 0;
const zod_1 = require("zod");
const job_spec_1 = require("./job-spec");
const primitives_1 = require("./primitives");
exports.SCHEMA_VERSION = 1;
/** Fields every message carries; `id` is also sent as Nats-Msg-Id for de-duplication. */
exports.Envelope = zod_1.z.object({
    schemaVersion: zod_1.z.literal(exports.SCHEMA_VERSION),
    id: zod_1.z.string().min(1).max(256),
    occurredAt: primitives_1.Timestamp,
});
const event = (shape) => exports.Envelope.extend(shape);
exports.SymbolSelection = zod_1.z.union([
    zod_1.z.array(primitives_1.SymbolName).min(1).max(5000),
    zod_1.z.object({ topN: zod_1.z.number().int().min(1).max(5000) }).strict(),
    zod_1.z.object({ csv: zod_1.z.string().min(1) }).strict(),
]);
exports.RunRequested = event({
    runId: primitives_1.Id.optional(),
    trigger: primitives_1.Trigger,
    date: primitives_1.IsoDate.optional(),
    symbols: exports.SymbolSelection,
    mode: primitives_1.RunMode.default('hybrid'),
    maxConcurrent: zod_1.z.number().int().min(1).max(10_000).optional(),
    priority: primitives_1.Priority.default('normal'),
    promote: primitives_1.PromoteMode.default('off'),
    canary: zod_1.z.boolean().default(false),
    force: zod_1.z.boolean().default(false),
    dryRun: zod_1.z.boolean().default(false),
    featureset: zod_1.z.string().min(1).default('fs1'),
    driver: job_spec_1.Driver.default({ kind: 'builtin' }),
    timeoutMinutes: zod_1.z.number().positive().max(7 * 24 * 60).optional(),
    requestedBy: zod_1.z.string().max(200).optional(),
});
exports.PlannedJob = zod_1.z.object({ jobId: primitives_1.Id, symbol: primitives_1.SymbolName, priority: primitives_1.Priority, specHash: primitives_1.Sha256 });
exports.SkippedSymbol = zod_1.z.object({ symbol: zod_1.z.string(), reason: zod_1.z.string() });
exports.Forecast = zod_1.z.object({
    gpuHours: zod_1.z.number().nonnegative(),
    cost: zod_1.z.number().nonnegative(),
    wallMinutes: zod_1.z.number().nonnegative(),
});
exports.RunPlanned = event({
    runId: primitives_1.Id,
    date: primitives_1.IsoDate,
    jobs: zod_1.z.array(exports.PlannedJob),
    skipped: zod_1.z.array(exports.SkippedSymbol),
    forecast: exports.Forecast,
    dryRun: zod_1.z.boolean(),
});
exports.RunStarted = event({
    runId: primitives_1.Id,
    date: primitives_1.IsoDate,
    trigger: primitives_1.Trigger,
    mode: primitives_1.RunMode,
    maxConcurrent: zod_1.z.number().int().positive(),
    totalJobs: zod_1.z.number().int().nonnegative(),
    symbols: zod_1.z.array(primitives_1.SymbolName),
});
exports.SymbolOutcome = zod_1.z.object({
    status: zod_1.z.enum(['succeeded', 'failed', 'skipped', 'cancelled']),
    attempts: zod_1.z.number().int().nonnegative(),
    trainMinutes: zod_1.z.number().nonnegative().nullable(),
    metrics: primitives_1.Metrics.nullable(),
    error: zod_1.z.string().nullable(),
});
exports.RunSummary = zod_1.z.object({
    total_symbols: zod_1.z.number().int().nonnegative(),
    succeeded: zod_1.z.number().int().nonnegative(),
    failed: zod_1.z.number().int().nonnegative(),
    skipped: zod_1.z.number().int().nonnegative(),
    cancelled: zod_1.z.number().int().nonnegative(),
    avg_train_minutes: zod_1.z.number().nonnegative(),
    median_train_minutes: zod_1.z.number().nonnegative(),
    total_wall_minutes: zod_1.z.number().nonnegative(),
    cost: zod_1.z.number().nonnegative(),
    by_symbol: zod_1.z.record(zod_1.z.string(), exports.SymbolOutcome),
});
exports.RunStatus = zod_1.z.enum(['succeeded', 'failed', 'partial', 'cancelled']);
exports.RunCompleted = event({
    runId: primitives_1.Id,
    date: primitives_1.IsoDate,
    status: exports.RunStatus,
    summary: exports.RunSummary,
    summaryUri: zod_1.z.string().nullable(),
});
exports.JobRequested = event({ spec: job_spec_1.JobSpec });
exports.Lease = zod_1.z.object({
    leaseId: primitives_1.Id,
    agentId: primitives_1.Id,
    provider: primitives_1.Provider,
    device: zod_1.z.string().min(1),
    gpuMemoryGb: zod_1.z.number().nonnegative(),
    pricePerHour: zod_1.z.number().nonnegative(),
    startedAt: primitives_1.Timestamp,
    endsBy: primitives_1.Timestamp,
});
exports.JobLeased = event({
    jobId: primitives_1.Id,
    runId: primitives_1.Id,
    attempt: zod_1.z.number().int().min(1),
    lease: exports.Lease,
});
exports.AgentAssign = event({ spec: job_spec_1.JobSpec, lease: exports.Lease });
exports.JobCancel = event({ jobId: primitives_1.Id, reason: zod_1.z.string().min(1).max(500) });
const attemptRef = {
    jobId: primitives_1.Id,
    runId: primitives_1.Id,
    symbol: primitives_1.SymbolName,
    attempt: zod_1.z.number().int().min(1),
};
exports.JobStarted = event({ ...attemptRef, agentId: primitives_1.Id, leaseId: primitives_1.Id, workDir: zod_1.z.string() });
exports.JobProgress = event({
    ...attemptRef,
    percent: zod_1.z.number().min(0).max(100),
    epoch: zod_1.z.number().int().nonnegative().optional(),
    step: zod_1.z.number().int().nonnegative().optional(),
    loss: zod_1.z.number().optional(),
    validationMetric: zod_1.z.number().optional(),
    etaSeconds: zod_1.z.number().nonnegative().optional(),
});
exports.JobCheckpointed = event({ ...attemptRef, checkpoint: job_spec_1.CheckpointRef });
exports.JobSucceeded = event({
    ...attemptRef,
    agentId: primitives_1.Id,
    leaseId: primitives_1.Id,
    date: primitives_1.IsoDate,
    featureset: zod_1.z.string(),
    costs: primitives_1.Costs,
    promote: primitives_1.PromoteMode,
    canary: zod_1.z.boolean(),
    artifactsPrefix: zod_1.z.string().min(1),
    artifacts: zod_1.z.array(primitives_1.Artifact).min(1),
    metrics: primitives_1.Metrics,
    evaluationWindow: zod_1.z.object({ from: primitives_1.Timestamp, to: primitives_1.Timestamp, candles: zod_1.z.number().int().positive() }),
    trainSeconds: zod_1.z.number().nonnegative(),
    startedAt: primitives_1.Timestamp,
    finishedAt: primitives_1.Timestamp,
});
exports.JobFailed = event({
    ...attemptRef,
    agentId: primitives_1.Id.optional(),
    leaseId: primitives_1.Id.optional(),
    errorType: primitives_1.ErrorType,
    retryable: zod_1.z.boolean(),
    message: zod_1.z.string().max(4000),
    stackSummary: zod_1.z.string().max(4000).optional(),
});
exports.JobCancelled = event({ ...attemptRef, reason: zod_1.z.string().max(500) });
exports.JobRetrying = event({
    ...attemptRef,
    nextAttempt: zod_1.z.number().int().min(2),
    delaySeconds: zod_1.z.number().nonnegative(),
    errorType: primitives_1.ErrorType,
});
exports.GpuInfo = zod_1.z.object({
    index: zod_1.z.number().int().nonnegative(),
    name: zod_1.z.string(),
    memoryTotalMb: zod_1.z.number().nonnegative(),
    memoryUsedMb: zod_1.z.number().nonnegative(),
    utilization: zod_1.z.number().min(0).max(100),
});
exports.AgentHeartbeat = event({
    agentId: primitives_1.Id,
    host: zod_1.z.string(),
    provider: primitives_1.Provider,
    gpus: zod_1.z.array(exports.GpuInfo),
    cpuSlots: zod_1.z.number().int().nonnegative(),
    running: zod_1.z.array(zod_1.z.object({ jobId: primitives_1.Id, attempt: zod_1.z.number().int().min(1), leaseId: primitives_1.Id })),
    startedAt: primitives_1.Timestamp,
});
exports.LeaseReleased = event({
    leaseId: primitives_1.Id,
    jobId: primitives_1.Id,
    attempt: zod_1.z.number().int().min(1),
    agentId: primitives_1.Id,
    seconds: zod_1.z.number().nonnegative(),
    cost: zod_1.z.number().nonnegative(),
});
exports.LeaseLost = event({
    leaseId: primitives_1.Id,
    jobId: primitives_1.Id,
    runId: primitives_1.Id,
    symbol: primitives_1.SymbolName,
    attempt: zod_1.z.number().int().min(1),
    agentId: primitives_1.Id,
    reason: zod_1.z.string(),
});
exports.Decision = zod_1.z.object({
    outcome: zod_1.z.enum(['promote', 'reject', 'not_comparable', 'skipped']),
    rule: zod_1.z.string(),
    mode: primitives_1.PromoteMode,
    applied: zod_1.z.boolean(),
    reason: zod_1.z.string(),
});
const modelRef = { symbol: primitives_1.SymbolName, version: zod_1.z.number().int().min(1), runId: primitives_1.Id, jobId: primitives_1.Id };
exports.ModelRegistered = event({ ...modelRef, metrics: primitives_1.Metrics, artifactsPrefix: zod_1.z.string() });
exports.ModelPromoted = event({
    ...modelRef,
    metrics: primitives_1.Metrics,
    productionMetrics: primitives_1.Metrics.nullable(),
    decision: exports.Decision,
    productionUri: zod_1.z.string().nullable(),
});
exports.ModelRejected = event({
    ...modelRef,
    metrics: primitives_1.Metrics,
    productionMetrics: primitives_1.Metrics.nullable(),
    decision: exports.Decision,
});
exports.ModelRolledBack = event({ ...modelRef, fromVersion: zod_1.z.number().int().min(1).nullable(), reason: zod_1.z.string() });
exports.DeadLetter = zod_1.z.object({
    schemaVersion: zod_1.z.literal(exports.SCHEMA_VERSION),
    id: zod_1.z.string(),
    occurredAt: primitives_1.Timestamp,
    subject: zod_1.z.string(),
    consumer: zod_1.z.string(),
    reason: zod_1.z.string(),
    deliveryCount: zod_1.z.number().int().nonnegative(),
    headers: zod_1.z.record(zod_1.z.string(), zod_1.z.array(zod_1.z.string())),
    data: zod_1.z.string(),
});
//# sourceMappingURL=events.js.map