"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.JobSpec = exports.JobDefinition = exports.CheckpointRef = exports.Resources = exports.ModelConfig = exports.Driver = exports.CommandDriver = exports.BuiltinDriver = void 0;
const zod_1 = require("zod");
const primitives_1 = require("./primitives");
exports.BuiltinDriver = zod_1.z.object({ kind: zod_1.z.literal('builtin') });
exports.CommandDriver = zod_1.z.object({
    kind: zod_1.z.literal('command'),
    command: zod_1.z.array(zod_1.z.string().min(1)).min(1),
});
exports.Driver = zod_1.z.discriminatedUnion('kind', [exports.BuiltinDriver, exports.CommandDriver]);
exports.ModelConfig = zod_1.z.object({
    type: zod_1.z.literal('logistic'),
    learningRate: zod_1.z.number().positive(),
    epochs: zod_1.z.number().int().positive(),
    seed: zod_1.z.number().int(),
});
exports.Resources = zod_1.z.object({
    gpuMemoryGb: zod_1.z.number().nonnegative(),
    cpus: zod_1.z.number().int().positive(),
});
exports.CheckpointRef = zod_1.z.object({ uri: zod_1.z.string().min(1), sha256: primitives_1.Sha256 });
/**
 * The deterministic part of a job: the same run inputs give the same object, byte for byte once
 * serialised with {@link canonicalJson}. Attempt-specific fields live beside it in {@link JobSpec}.
 */
exports.JobDefinition = zod_1.z.object({
    jobId: primitives_1.Id,
    runId: primitives_1.Id,
    symbol: primitives_1.SymbolName,
    date: primitives_1.IsoDate,
    featureset: zod_1.z.string().min(1),
    timeframe: zod_1.z.enum(['1m', '5m', '15m', '1h', '4h', '1d']),
    lookbackCandles: zod_1.z.number().int().min(200).max(1_000_000),
    model: exports.ModelConfig,
    costs: primitives_1.Costs,
    driver: exports.Driver,
    resources: exports.Resources,
    timeoutMinutes: zod_1.z.number().positive().max(7 * 24 * 60),
    priority: primitives_1.Priority,
    promote: primitives_1.PromoteMode,
    canary: zod_1.z.boolean(),
});
exports.JobSpec = exports.JobDefinition.extend({
    specHash: primitives_1.Sha256,
    attempt: zod_1.z.number().int().min(1),
    resumeFrom: exports.CheckpointRef.optional(),
});
//# sourceMappingURL=job-spec.js.map