"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_COSTS = exports.jobIdFor = exports.dailyRunId = void 0;
exports.defaultDataDate = defaultDataDate;
exports.specHash = specHash;
exports.toJobSpec = toJobSpec;
exports.comparePriority = comparePriority;
const canonical_json_1 = require("./canonical-json");
const primitives_1 = require("./primitives");
/** The daily run's id derives from its data date, so a second trigger of the same day is the same run. */
const dailyRunId = (date) => `daily-${date.replaceAll('-', '')}`;
exports.dailyRunId = dailyRunId;
/** Yesterday in UTC, the default data date of a run. */
function defaultDataDate(now) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1));
    return d.toISOString().slice(0, 10);
}
const jobIdFor = (runId, symbol) => `${runId}-${symbol}`;
exports.jobIdFor = jobIdFor;
function specHash(def) {
    return (0, canonical_json_1.sha256Hex)((0, canonical_json_1.canonicalJson)(def));
}
function toJobSpec(def, attempt, resumeFrom) {
    return { ...def, specHash: specHash(def), attempt, ...(resumeFrom ? { resumeFrom } : {}) };
}
function comparePriority(a, b) {
    return primitives_1.PRIORITY_RANK[a] - primitives_1.PRIORITY_RANK[b];
}
exports.DEFAULT_COSTS = { feeBps: 10, spreadBps: 2 };
//# sourceMappingURL=run-request.js.map