import { Injectable } from '@nestjs/common';
import { MAX_JOBS_ASKED, type EventMessage, type JobView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { BatchedCalls } from '@trainyard/runtime';

/** `counts` carries the scheduler's record of the job: how its model is promoted is the run's, not the success's. */
export type Verdict = { kind: 'counts'; job: JobView } | { kind: 'fenced'; why: string } | { kind: 'undecided'; why: string };

/**
 * Whether a successful attempt is the one its job counts, by the scheduler's record (the arbiter of
 * attempts: it alone decides that a lost attempt is retried):
 * 1. the job succeeded with this attempt: it counts;
 * 2. the job moved past this attempt, or ended otherwise (failed, cancelled, skipped): it was fenced
 *    off, and is never registered;
 * 3. otherwise undecided: the scheduler has not applied the success yet, does not know the job yet,
 *    or holds this attempt in retry_wait, where a late success of it still counts until the next
 *    attempt is released (libs/contracts/src/states.ts).
 */
export function verdictOf(job: JobView | null, attempt: number): Verdict {
  if (!job) return { kind: 'undecided', why: 'the scheduler does not know the job yet' };
  if (job.attempt === attempt && job.status === 'succeeded') return { kind: 'counts', job };
  if (job.attempt > attempt) return { kind: 'fenced', why: `the scheduler is at attempt ${job.attempt}` };
  if (['succeeded', 'failed', 'cancelled', 'skipped'].includes(job.status)) return { kind: 'fenced', why: `the job ended ${job.status} with attempt ${job.attempt}` };
  return { kind: 'undecided', why: `the scheduler has attempt ${job.attempt} ${job.status}` };
}

/**
 * How long to wait before asking again, after `asked` undecided answers. The scheduler has usually
 * not applied the success for only some milliseconds (both consume it at once; its answer waits for a
 * success it is writing, but about one success in five is asked for before it has begun), so the
 * first ask again comes soon; then less often, at most every 250 ms.
 * A handler waiting here holds one of the promoter's four: a fixed 250 ms capped promotion at about
 * 70 a second. Sooner than 50 ms found the scheduler still behind often enough to cost more asks
 * than it saved waiting.
 */
export function askAgainAfterMs(asked: number): number {
  return Math.min(250, 50 * 2 ** (asked - 1));
}

/**
 * Asks the scheduler (the runs.jobs query) until its record decides the attempt, or `patienceMs`
 * passes. The handlers' asks made while one is on its way go together in the next: one question for
 * the successes that arrived together, not one each.
 */
@Injectable()
export class AttemptVerdicts {
  private readonly asks = new BatchedCalls<string, JobView | null>(
    async (ids) => {
      const { jobs } = await this.bus.query('runs.jobs', { ids });
      const byId = new Map(jobs.map((j) => [j.jobId, j]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { max: MAX_JOBS_ASKED, failTogether: true },
  );

  constructor(private readonly bus: NatsBus) {}

  async settle(m: EventMessage<'job.succeeded'>, patienceMs = 15_000): Promise<Verdict> {
    const deadline = Date.now() + patienceMs;
    let last: Verdict = { kind: 'undecided', why: 'not asked yet' };
    for (let asked = 1; ; asked++) {
      try {
        last = verdictOf(await this.asks.call(m.jobId), m.attempt);
      } catch (err) {
        last = { kind: 'undecided', why: `the scheduler did not answer: ${(err as Error).message}` };
      }
      if (last.kind !== 'undecided' || Date.now() >= deadline) return last;
      await new Promise((r) => setTimeout(r, askAgainAfterMs(asked)));
    }
  }
}
