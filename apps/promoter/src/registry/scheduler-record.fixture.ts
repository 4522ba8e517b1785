import type { Subscription } from '@nats-io/nats-core';
import type { JobView } from '@trainyard/contracts';
import type { NatsBus } from '@trainyard/messaging';

/**
 * Plays the scheduler's side of runs.find on the real bus for the promoter's specs: the job's
 * attempt and status as the scheduler would have recorded them; by default, attempt 1 succeeded.
 */
export function answerAsScheduler(bus: NatsBus, record: Map<string, Pick<JobView, 'attempt' | 'status'>>): Promise<Subscription> {
  return bus.answer('runs.find', async ({ id }) => {
    const r = record.get(id) ?? { attempt: 1, status: 'succeeded' as const };
    return { run: null, job: { jobId: id, runId: 'daily-20261122', symbol: 'BTCUSDT', status: r.status, attempt: r.attempt, maxAttempts: 3, errorType: null, errorMessage: null } };
  });
}
