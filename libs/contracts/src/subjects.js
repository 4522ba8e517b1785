"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.deadLetterSubject = exports.DEAD_LETTER_PREFIX = exports.Events = void 0;
exports.contractFor = contractFor;
exports.allContracts = allContracts;
const E = __importStar(require("./events"));
function contract(name, schema, opts = {}) {
    return {
        name,
        schema,
        subject: opts.subject ?? (() => name),
        filter: opts.filter ?? name,
        public: opts.public ?? false,
    };
}
/** Every message on the bus. Subjects are relative to the prefix (default `trainyard`). */
exports.Events = {
    RunRequested: contract('run.requested', E.RunRequested, { public: true }),
    RunPlanned: contract('run.planned', E.RunPlanned),
    RunStarted: contract('run.started', E.RunStarted),
    RunCompleted: contract('run.completed', E.RunCompleted),
    JobRequested: contract('job.requested', E.JobRequested),
    JobLeased: contract('job.leased', E.JobLeased),
    AgentAssign: contract('agent.assign', E.AgentAssign, {
        subject: (m) => `agent.${m.lease.agentId}.assign`,
        filter: 'agent.*.assign',
    }),
    JobCancel: contract('job.cancel', E.JobCancel, { subject: (m) => `job.${m.jobId}.cancel`, filter: 'job.*.cancel', public: true }),
    JobStarted: contract('job.started', E.JobStarted),
    JobProgress: contract('job.progress', E.JobProgress),
    JobCheckpointed: contract('job.checkpointed', E.JobCheckpointed),
    JobSucceeded: contract('job.succeeded', E.JobSucceeded),
    JobFailed: contract('job.failed', E.JobFailed),
    JobCancelled: contract('job.cancelled', E.JobCancelled),
    JobRetrying: contract('job.retrying', E.JobRetrying),
    AgentHeartbeat: contract('agent.heartbeat', E.AgentHeartbeat),
    LeaseReleased: contract('lease.released', E.LeaseReleased),
    LeaseLost: contract('lease.lost', E.LeaseLost),
    ModelRegistered: contract('model.registered', E.ModelRegistered),
    ModelPromoted: contract('model.promoted', E.ModelPromoted),
    ModelRejected: contract('model.rejected', E.ModelRejected),
    ModelRolledBack: contract('model.rolled_back', E.ModelRolledBack),
};
const byName = new Map(Object.values(exports.Events).map((c) => [c.name, c]));
function contractFor(name) {
    const c = byName.get(name);
    if (!c)
        throw new Error(`unknown event "${name}"`);
    return c;
}
function allContracts() {
    return [...byName.values()];
}
exports.DEAD_LETTER_PREFIX = 'dlq';
const deadLetterSubject = (subject) => `${exports.DEAD_LETTER_PREFIX}.${subject}`;
exports.deadLetterSubject = deadLetterSubject;
//# sourceMappingURL=subjects.js.map