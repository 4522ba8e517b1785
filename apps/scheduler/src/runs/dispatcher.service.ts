import { Injectable, Logger } from '@nestjs/common';
import { toJobSpec, type JobSpec } from '@trainyard/contracts';
import { NatsBus, withTraceContext } from '@trainyard/messaging';
import { Clock, CoalescedPasses } from '@trainyard/runtime';
import type { JobEntity } from '../repositories/job.entity';
import { JobRepository } from '../repositories/job.repository';

export const jobRequestId = (jobId: string, attempt: number) => `${jobId}-a${attempt}`;

/** Releases jobs to the broker as slots free up, continuously rather than in batches. */
@Injectable()
export class DispatcherService {
  private readonly log = new Logger('Dispatcher');
  private readonly passes = new CoalescedPasses<string, number>((runId) => this.releaseNow(runId));

  constructor(
    private readonly jobs: JobRepository,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
  ) {}

  /**
   * Releases what the run's free slots allow; answers how many jobs the pass that served this call
   * released. Calls made while a pass of the run is under way share one pass after it (CoalescedPasses):
   * job ends arriving together no longer queue on the run's lock one pass each, and the shared pass
   * releases for all of them in one claim.
   */
  release(runId: string): Promise<number> {
    return this.passes.run(runId);
  }

  private async releaseNow(runId: string): Promise<number> {
    const { jobs: released, traceContext } = await this.jobs.claimReleasable(runId, this.clock.now());
    if (released.length === 0) return 0;
    // Specs first (a retry reads its attempts), then every request at once: sent in release order on the
    // one connection, their PubAcks awaited together rather than one round trip each.
    const specs: JobSpec[] = [];
    for (const job of released) specs.push(await this.specOf(job));
    await Promise.all(released.map((job, i) => this.sendRequest(job, specs[i]!, traceContext)));
    this.log.log({
      event: 'jobs_released',
      runId,
      jobIds: released.map((j) => j.id),
      msg: `released ${released.map((j) => `${j.symbol}#${j.attempt}`).join(', ')} of ${runId}`,
    });
    return released.length;
  }

  /**
   * Same message id for the same attempt, so a republish after a crash is de-duplicated; published
   * in the run's trace, whether a handler or a timer released it. `repeat` (the reconciler's asking
   * again about a job still unleased) gives the message an id of its own, so it reaches the broker,
   * which answers with what became of the attempt; the id carries the repeat's number (repeatsDue),
   * so replicas asking at once send one.
   */
  async publishRequest(job: JobEntity, traceContext?: Record<string, string> | null, repeat?: number): Promise<void> {
    await this.sendRequest(job, await this.specOf(job), traceContext, repeat);
  }

  private async specOf(job: JobEntity): Promise<JobSpec> {
    const oomFailures = job.attempt > 1 ? (await this.jobs.attempts(job.id)).filter((a) => a.errorType === 'oom').length : 0;
    return toJobSpec(job.definition, job.attempt, { resumeFrom: job.checkpoint ?? undefined, earlierCheckpoints: job.earlierCheckpoints, oomFailures });
  }

  private async sendRequest(job: JobEntity, spec: JobSpec, traceContext?: Record<string, string> | null, repeat?: number): Promise<void> {
    const id = repeat === undefined ? jobRequestId(job.id, job.attempt) : `${jobRequestId(job.id, job.attempt)}-r${repeat}`;
    await withTraceContext(traceContext, () => this.bus.publish('job.requested', { spec }, { id }));
  }
}
