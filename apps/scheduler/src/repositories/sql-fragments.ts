import { JOB_STATES, TERMINAL_JOB_STATES } from '@trainyard/contracts';

// SQL the scheduler's repositories share.

export const OPEN_JOB_STATES = JOB_STATES.filter((s) => !TERMINAL_JOB_STATES.has(s));

/**
 * States written into the SQL as literals, so the planner sees they imply the partial index jobs_open
 * (open jobs only) and never reads a run's finished jobs, whatever it estimates for a run it has no
 * statistics of yet (today's).
 */
export const inList = (states: Iterable<string>) => [...states].map((s) => `'${s}'`).join(', ');

/**
 * A batch's condition on its jobs' states, written so that the planner looks the jobs up by id. It
 * estimates a batch's unnest at 10 rows, and would rather read every job in these states through the
 * status indexes (the dead entries of each job's earlier states included: 2–3 ms a batch in the stack
 * bench) than make ten lookups by id; a condition wrapped in IS TRUE is not one an index can answer.
 */
export const jobInStates = (alias: string, states: Iterable<string>) => `(${alias}.status IN (${inList(states)})) IS TRUE`;

/** Which runs the state gauges look at: those still running and those created in the last day. */
export const RECENT_RUNS = `r.status = 'running' OR r.created_at > now() - interval '24 hours'`;
