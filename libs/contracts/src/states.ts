/**
 * State machines shared by every service that talks about runs, jobs and leases. A transition not
 * listed here is refused, which makes handlers safe against stale or duplicated messages.
 */
export type JobStatus = 'pending' | 'released' | 'leased' | 'running' | 'retry_wait' | 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'planned';
/** Every run state: planned (a dry run's), running, then one outcome. */
export const RUN_STATES = ['planned', 'running', 'succeeded', 'failed', 'partial', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];
/** The outcomes: a run in one of these is decided, and its run.completed is owed to the bus. */
export const DECIDED_RUN_STATES = ['succeeded', 'failed', 'partial', 'cancelled'] as const satisfies readonly RunState[];

const JOB_TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['released', 'cancelled', 'skipped'],
  released: ['leased', 'running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
  leased: ['running', 'succeeded', 'failed', 'retry_wait', 'cancelled'],
  running: ['succeeded', 'failed', 'retry_wait', 'cancelled'],
  // A late success of the attempt that was about to be retried still counts. `cancelled` is an
  // operator's cancel only: the ended attempt's own job.cancelled (the answer to a timeout's
  // job.cancel) is stale here, see canApplyAttemptEvent.
  retry_wait: ['released', 'succeeded', 'cancelled'],
  succeeded: [],
  // An operator's retry gives a finished job one more attempt.
  failed: ['retry_wait'],
  cancelled: ['retry_wait'],
  skipped: [],
  // A dry run's job: in the plan, never launched (a dry run cannot become a real one), so never pending.
  planned: [],
};

/** Every job state, from the table above. */
export const JOB_STATES = Object.keys(JOB_TRANSITIONS) as [JobStatus, ...JobStatus[]];

/**
 * What an attempt's own event (job.leased, job.started, job.succeeded, job.failed, job.cancelled of
 * the attempt the job's row names) may do to the job. In retry_wait that attempt has already ended
 * (failed or timed out) and is fenced off: the next attempt is the current one, even before its
 * number is given at release. Of the ended attempt's events only a late success moves the job; its
 * job.cancelled, job.failed or job.started are recorded and change nothing. Events of any other
 * attempt number never reach this check (the handlers drop them).
 */
const ATTEMPT_EVENT_TRANSITIONS: Partial<Record<JobStatus, readonly JobStatus[]>> = {
  retry_wait: ['succeeded'],
};

export const TERMINAL_JOB_STATES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled', 'skipped', 'planned']);
/** States in which a job holds (or is about to hold) a slot. */
export const ACTIVE_JOB_STATES: ReadonlySet<JobStatus> = new Set(['released', 'leased', 'running']);

export function canTransitionJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

/** Whether an event of the attempt the job's row names may move the job from `from` to `to`. */
export function canApplyAttemptEvent(from: JobStatus, to: JobStatus): boolean {
  return canTransitionJob(from, to) && (ATTEMPT_EVENT_TRANSITIONS[from]?.includes(to) ?? true);
}

/** The states an event of the job's current attempt may move it from to `to`, for a conditional UPDATE. */
export function attemptEventSources(to: JobStatus): JobStatus[] {
  return JOB_STATES.filter((from) => canApplyAttemptEvent(from, to));
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

/** The states a lease may move to `to` from, for a conditional UPDATE. */
export function leaseTransitionSources(to: LeaseStatus): LeaseStatus[] {
  return (Object.keys(LEASE_TRANSITIONS) as LeaseStatus[]).filter((from) => canTransitionLease(from, to));
}

/**
 * A rented instance, from the row written before the API is asked to the API's confirmation that it
 * is gone. `creating`: the create call may be in flight (a crash here leaves only the label to find);
 * `booting`: the API has it, the container is pulling or starting; `bootstrapping`: the agent is being
 * copied and started over SSH; `ready`/`busy`: an agent with no lease / with leases; `draining`: takes
 * no new work (past its runtime) and goes once its leases end; `destroying`: asked until the API confirms.
 */
export type InstanceStatus = 'creating' | 'booting' | 'bootstrapping' | 'ready' | 'busy' | 'draining' | 'destroying' | 'destroyed';
const INSTANCE_TRANSITIONS: Record<InstanceStatus, readonly InstanceStatus[]> = {
  // A create refused before it acted leaves nothing to destroy.
  creating: ['booting', 'destroying', 'destroyed'],
  booting: ['bootstrapping', 'destroying'],
  bootstrapping: ['ready', 'destroying'],
  ready: ['busy', 'draining', 'destroying'],
  busy: ['ready', 'draining', 'destroying'],
  draining: ['destroying'],
  destroying: ['destroyed'],
  destroyed: [],
};
export const INSTANCE_STATES = Object.keys(INSTANCE_TRANSITIONS) as InstanceStatus[];
/** Every state in which the instance may exist on the provider's side, and so may bill. */
export const LIVE_INSTANCE_STATES: readonly InstanceStatus[] = INSTANCE_STATES.filter((s) => s !== 'destroyed');
/** States from which a transition to `to` is allowed. */
export function instanceStatesInto(to: InstanceStatus): InstanceStatus[] {
  return INSTANCE_STATES.filter((from) => INSTANCE_TRANSITIONS[from].includes(to));
}
export function canTransitionInstance(from: InstanceStatus, to: InstanceStatus): boolean {
  return INSTANCE_TRANSITIONS[from].includes(to);
}
