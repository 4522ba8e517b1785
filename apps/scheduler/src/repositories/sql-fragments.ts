import { JOB_STATES, TERMINAL_JOB_STATES } from '@trainyard/contracts';

// SQL the scheduler's repositories share.

export const OPEN_JOB_STATES = JOB_STATES.filter((s) => !TERMINAL_JOB_STATES.has(s));

/**
 * States written into the SQL as literals, so the planner sees they imply the partial index jobs_open
 * (open jobs only) and never reads a run's finished jobs, whatever it estimates for a run it has no
 * statistics of yet (today's).
 */
export const inList = (states: Iterable<string>) => [...states].map((s) => `'${s}'`).join(', ');

/** Which runs the state gauges look at: those still running and those created in the last day. */
export const RECENT_RUNS = `r.status = 'running' OR r.created_at > now() - interval '24 hours'`;
