/**
 * State machines shared by every service that talks about runs, jobs and leases. A transition not
 * listed here is refused, which makes handlers safe against stale or duplicated messages.
 */
export type JobStatus = 'pending' | 'released' | 'leased' | 'running' | 'retry_wait' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export type RunState = 'planned' | 'running' | 'succeeded' | 'failed' | 'partial' | 'cancelled';

const JOB_TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['released', 'cancelled', 'skipped'],
  released: ['leased', 'running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
  leased: ['running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
  running: ['succeeded', 'failed', 'retry_wait', 'cancelled'],
  // A late success of the attempt that was about to be retried still counts.
  retry_wait: ['released', 'succeeded', 'cancelled'],
  succeeded: [],
  // An operator's retry gives a finished job one more attempt.
  failed: ['retry_wait'],
  cancelled: ['retry_wait'],
  skipped: [],
};

export const TERMINAL_JOB_STATES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);
/** States in which a job holds (or is about to hold) a slot. */
export const ACTIVE_JOB_STATES: ReadonlySet<JobStatus> = new Set(['released', 'leased', 'running']);

export function canTransitionJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export type LeaseStatus = 'assigned' | 'running' | 'released' | 'lost';
const LEASE_TRANSITIONS: Record<LeaseStatus, readonly LeaseStatus[]> = {
  assigned: ['running', 'released', 'lost'],
  running: ['released', 'lost'],
  released: [],
  lost: [],
};
export function canTransitionLease(from: LeaseStatus, to: LeaseStatus): boolean {
  return LEASE_TRANSITIONS[from].includes(to);
}
