import type { Subscription } from '@nats-io/nats-core';
import type { JobView } from '@trainyard/contracts';
import type { NatsBus } from '@trainyard/messaging';

/** What a spec says the scheduler recorded of a job; by default attempt 1 succeeded, of a run that asked for `auto` promotion. */
export type SchedulerRecord = Partial<Pick<JobView, 'attempt' | 'status' | 'promote' | 'canary'>>;

/**
 * Plays the scheduler's side of runs.jobs on the real bus for the promoter's specs: each job's
 * attempt and status as the scheduler would have recorded them, and its run's promotion settings.
 * Each question's ids go into `asked`.
 */
export function answerAsScheduler(bus: NatsBus, record: Map<string, SchedulerRecord>, asked: string[][] = []): Promise<Subscription> {
  return bus.answer('runs.jobs', async ({ ids }) => {
    asked.push(ids);
    const jobs = ids.map((id) => {
      const r = { attempt: 1, status: 'succeeded' as const, promote: 'auto' as const, canary: false, ...record.get(id) };
      return { jobId: id, runId: 'daily-20261122', symbol: 'BTCUSDT', maxAttempts: 3, errorType: null, errorMessage: null, ...r };
    });
    return { jobs };
  });
}
