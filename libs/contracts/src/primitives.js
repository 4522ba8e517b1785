"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Metrics = exports.Costs = exports.Artifact = exports.Sha256 = exports.RETRYABLE_ERRORS = exports.ErrorType = exports.Provider = exports.Trigger = exports.PromoteMode = exports.RunMode = exports.PRIORITY_RANK = exports.Priority = exports.Timestamp = exports.IsoDate = exports.Id = exports.SymbolName = void 0;
const zod_1 = require("zod");
/** Market symbols end up in object keys and folder names: letters and digits only. */
exports.SymbolName = zod_1.z
    .string()
    .regex(/^[A-Z0-9]{2,30}$/, 'a symbol is 2-30 upper-case letters or digits (for example BTCUSDT)');
/** Ids appear in NATS subjects and storage keys, so no dots, wildcards, spaces or slashes. */
exports.Id = zod_1.z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, 'an id is 1-128 letters, digits, "_" or "-", starting with a letter or digit');
exports.IsoDate = zod_1.z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date is YYYY-MM-DD');
exports.Timestamp = zod_1.z.string().datetime({ offset: true });
exports.Priority = zod_1.z.enum(['urgent', 'high', 'normal', 'low']);
exports.PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
exports.RunMode = zod_1.z.enum(['sequential', 'parallel', 'hybrid']);
exports.PromoteMode = zod_1.z.enum(['off', 'dry', 'auto']);
exports.Trigger = zod_1.z.enum(['cron', 'cli', 'api', 'telegram', 'event']);
exports.Provider = zod_1.z.enum(['local', 'vast']);
exports.ErrorType = zod_1.z.enum([
    'agent_lost',
    'oom',
    'network',
    'storage',
    'timeout',
    'bad_data',
    'trainer_error',
    'cancelled',
    'unknown',
]);
/** Error types worth another attempt: the fault is in the environment, not in the job. */
exports.RETRYABLE_ERRORS = new Set(['agent_lost', 'oom', 'network', 'storage', 'timeout', 'unknown']);
exports.Sha256 = zod_1.z.string().regex(/^[a-f0-9]{64}$/, 'a sha256 is 64 lower-case hex digits');
exports.Artifact = zod_1.z.object({
    name: zod_1.z.string().min(1),
    uri: zod_1.z.string().min(1),
    sha256: exports.Sha256,
    bytes: zod_1.z.number().int().nonnegative(),
});
exports.Costs = zod_1.z.object({
    feeBps: zod_1.z.number().nonnegative().max(1000),
    spreadBps: zod_1.z.number().nonnegative().max(1000),
});
exports.Metrics = zod_1.z.object({
    directionalHitRate: zod_1.z.number(),
    sharpe: zod_1.z.number(),
    maxDrawdown: zod_1.z.number(),
    totalReturn: zod_1.z.number(),
    mae: zod_1.z.number(),
    rmse: zod_1.z.number(),
    mape: zod_1.z.number(),
    r2: zod_1.z.number(),
});
//# sourceMappingURL=primitives.js.map