import { Injectable, Logger } from '@nestjs/common';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import type { JobEntity } from './job.entity';
import { SchedulerStore } from './scheduler.store';

export const jobRequestId = (jobId: string, attempt: number) => `${jobId}-a${attempt}`;

/** Releases jobs to the broker as slots free up, continuously rather than in batches. */
@Injectable()
export class DispatcherService {
  private readonly log = new Logger('Dispatcher');

  constructor(
    private readonly store: SchedulerStore,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
  ) {}

  async release(runId: string): Promise<number> {
    const released = await this.store.claimReleasable(runId, this.clock.now());
    for (const job of released) await this.publishRequest(job);
    if (released.length) this.log.log(`released ${released.map((j) => `${j.symbol}#${j.attempt}`).join(', ')} of ${runId}`);
    return released.length;
  }

  /** Same message id for the same attempt, so a republish after a crash is de-duplicated. */
  async publishRequest(job: JobEntity): Promise<void> {
    const spec = toJobSpec(job.definition, job.attempt, job.checkpoint ?? undefined);
    await this.bus.publish('job.requested', { spec }, { id: jobRequestId(job.id, job.attempt) });
  }
}
