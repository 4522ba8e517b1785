import { Injectable } from '@nestjs/common';
import type { EventMessage, Purpose } from '@trainyard/contracts';

type Listener<T> = (value: T) => Promise<void>;

/** A job whose attempt ended, with its purpose when the handler knows it without a read. */
export interface EndedJob {
  jobId: string;
  purpose?: Purpose;
}

/**
 * What other features of the scheduler follow about jobs (a study about its trials), told after the
 * lifecycle has applied an event; features register here instead of the runs feature knowing them.
 * A listener's failure fails the handler, so the event is delivered again.
 */
@Injectable()
export class JobEvents {
  private readonly ended: Listener<EndedJob>[] = [];
  private readonly progressed: Listener<EventMessage<'job.progress'>>[] = [];

  onEnded(listener: Listener<EndedJob>): void {
    this.ended.push(listener);
  }

  onProgress(listener: Listener<EventMessage<'job.progress'>>): void {
    this.progressed.push(listener);
  }

  /** A job's attempt ended (succeeded, failed, cancelled, lost): the job may now be terminal. */
  async jobEnded(job: EndedJob): Promise<void> {
    for (const l of this.ended) await l(job);
  }

  async jobProgressed(m: EventMessage<'job.progress'>): Promise<void> {
    for (const l of this.progressed) await l(m);
  }
}
