"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ACTIVE_JOB_STATES = exports.TERMINAL_JOB_STATES = void 0;
exports.canTransitionJob = canTransitionJob;
exports.canTransitionLease = canTransitionLease;
const JOB_TRANSITIONS = {
    pending: ['released', 'cancelled', 'skipped'],
    released: ['leased', 'running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
    leased: ['running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
    running: ['succeeded', 'failed', 'retry_wait', 'cancelled'],
    // A late success of the attempt that was about to be retried still counts.
    retry_wait: ['released', 'succeeded', 'cancelled'],
    succeeded: [],
    failed: [],
    cancelled: [],
    skipped: [],
};
exports.TERMINAL_JOB_STATES = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
/** States in which a job holds (or is about to hold) a slot. */
exports.ACTIVE_JOB_STATES = new Set(['released', 'leased', 'running']);
function canTransitionJob(from, to) {
    return JOB_TRANSITIONS[from].includes(to);
}
const LEASE_TRANSITIONS = {
    assigned: ['running', 'released', 'lost'],
    running: ['released', 'lost'],
    released: [],
    lost: [],
};
function canTransitionLease(from, to) {
    return LEASE_TRANSITIONS[from].includes(to);
}
//# sourceMappingURL=states.js.map