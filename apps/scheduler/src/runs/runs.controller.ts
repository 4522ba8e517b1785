import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume, NatsBus, PermanentError } from '@trainyard/messaging';
import { JobEvents } from './job-events';
import { JobLifecycleService } from './job-lifecycle.service';
import { RunIntakeService } from './run-intake.service';
import { TrackingService } from '../tracking/tracking.service';
import { RunSpendService } from './run-spend.service';

@Controller()
export class RunsController {
  constructor(
    private readonly intake: RunIntakeService,
    private readonly lifecycle: JobLifecycleService,
    private readonly spend: RunSpendService,
    private readonly tracking: TrackingService,
    private readonly events: JobEvents,
    private readonly bus: NatsBus,
  ) {}

  /** A refused request is dead-lettered; its requester hears why on command.result, keyed on the request's id. */
  @Consume('run.requested')
  async onRunRequested(@Payload() m: EventMessage<'run.requested'>) {
    try {
      await this.intake.accept(m);
    } catch (err) {
      if (err instanceof PermanentError) {
        const refusal = { commandId: m.id, command: 'run.requested', ok: false, message: err.message.slice(0, 1000), requestedBy: m.requestedBy || undefined };
        await this.bus.publish('command.result', refusal, { id: `${m.id}-refused` });
      }
      throw err;
    }
  }

  /**
   * Events of different jobs in any order (each applies under its job's state machine), sixteen at a
   * time: the leases and starts that arrive together are applied in one statement each.
   */
  @Consume('job.leased', { concurrency: 16 })
  onLeased(@Payload() m: EventMessage<'job.leased'>) {
    return this.lifecycle.leased(m);
  }

  @Consume('job.started', { concurrency: 16 })
  async onStarted(@Payload() m: EventMessage<'job.started'>) {
    await this.lifecycle.started(m);
  }

  @Consume('job.progress', { concurrency: 4 })
  async onProgress(@Payload() m: EventMessage<'job.progress'>) {
    await this.lifecycle.progressed(m);
    await this.tracking.progressed(m);
    await this.events.jobProgressed(m);
  }

  @Consume('job.checkpointed')
  onCheckpointed(@Payload() m: EventMessage<'job.checkpointed'>) {
    return this.lifecycle.checkpointed(m);
  }

  @Consume('job.succeeded', { concurrency: 4 })
  async onSucceeded(@Payload() m: EventMessage<'job.succeeded'>) {
    const job = await this.lifecycle.succeeded(m);
    await this.events.jobEnded({ jobId: m.jobId, purpose: job?.definition.purpose });
  }

  @Consume('job.failed')
  async onFailed(@Payload() m: EventMessage<'job.failed'>) {
    await this.lifecycle.failed(m);
    await this.events.jobEnded({ jobId: m.jobId });
  }

  @Consume('job.cancelled')
  async onCancelled(@Payload() m: EventMessage<'job.cancelled'>) {
    await this.lifecycle.cancelled(m);
    await this.events.jobEnded({ jobId: m.jobId });
  }

  @Consume('lease.lost')
  async onLeaseLost(@Payload() m: EventMessage<'lease.lost'>) {
    await this.lifecycle.failed({ jobId: m.jobId, attempt: m.attempt, errorType: 'agent_lost', retryable: true, message: `lease ${m.leaseId} on ${m.agentId} lost: ${m.reason}` });
    await this.events.jobEnded({ jobId: m.jobId });
  }

  /** Tracking keeps a run whose model reached production from retention. */
  @Consume('model.promoted')
  onPromoted(@Payload() m: EventMessage<'model.promoted'>) {
    return this.tracking.promoted(m);
  }

  /** A rollback's target is in production again, whatever it was before: retention keeps it too. */
  @Consume('model.rolled_back')
  onRolledBack(@Payload() m: EventMessage<'model.rolled_back'>) {
    return this.tracking.rolledBack(m);
  }

  /** What the GPU provider billed for an instance, charged to the runs that used it (spend, beside the leases' work cost). */
  @Consume('instance.destroyed')
  onInstanceDestroyed(@Payload() m: EventMessage<'instance.destroyed'>) {
    return this.spend.destroyed(m);
  }
}
