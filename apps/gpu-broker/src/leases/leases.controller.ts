import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { LeaseService } from './lease.service';

@Controller()
export class LeasesController {
  constructor(private readonly leases: LeaseService) {}

  /** Requests of different jobs in any order: each inserts its row, and their passes coalesce (LeaseService.dispatch). */
  @Consume('job.requested', { concurrency: 16 })
  onRequested(@Payload() m: EventMessage<'job.requested'>) {
    return this.leases.request(m.spec);
  }

  /** Starts of different leases in any order, sixteen at a time: those that arrive together are applied in one statement. */
  @Consume('job.started', { concurrency: 16 })
  onStarted(@Payload() m: EventMessage<'job.started'>) {
    return this.leases.started(m);
  }

  /**
   * Ends of different leases in any order (each a conditional move of its own lease, the ends that arrive
   * together in one statement); they free slots, so they too wait only for a coalesced pass.
   */
  @Consume('job.succeeded', { concurrency: 16 })
  onSucceeded(@Payload() m: EventMessage<'job.succeeded'>) {
    return this.leases.ended(m.jobId, m.attempt, 'succeeded', new Date(m.occurredAt), { startedAt: new Date(m.startedAt), finishedAt: new Date(m.finishedAt) });
  }

  @Consume('job.failed', { concurrency: 4 })
  onFailed(@Payload() m: EventMessage<'job.failed'>) {
    return this.leases.ended(m.jobId, m.attempt, `failed: ${m.errorType}`, new Date(m.occurredAt));
  }

  @Consume('job.cancelled', { concurrency: 4 })
  onCancelled(@Payload() m: EventMessage<'job.cancelled'>) {
    return this.leases.ended(m.jobId, m.attempt, `cancelled: ${m.reason}`, new Date(m.occurredAt));
  }

  @Consume('job.cancel')
  onCancel(@Payload() m: EventMessage<'job.cancel'>) {
    return this.leases.cancel(m);
  }
}
