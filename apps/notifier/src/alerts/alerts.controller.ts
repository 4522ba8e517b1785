import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AlertsService } from './alerts.service';
import { DigestService } from './digest.service';
import { formatModelLine, formatRunCompleted, formatRunStarted, formatStorageQuotaWarning } from './message-format';

/**
 * Dedupe keys come from the data, not the message id, so a republish under a new id still sends
 * once; model decisions use the promoter's ids, which it derives from the version and decision.
 */
@Controller()
export class AlertsController {
  constructor(
    private readonly alerts: AlertsService,
    private readonly digest: DigestService,
  ) {}

  @Consume('run.started')
  onRunStarted(@Payload() m: EventMessage<'run.started'>) {
    return this.alerts.notify('run.started', `run.started:${m.runId}`, formatRunStarted(m));
  }

  @Consume('run.completed')
  onRunCompleted(@Payload() m: EventMessage<'run.completed'>) {
    return this.alerts.notify('run.completed', `run.completed:${m.runId}`, formatRunCompleted(m));
  }

  /** Decisions come one per symbol: they go out together in the next digest. */
  @Consume('model.promoted')
  onModelPromoted(@Payload() m: EventMessage<'model.promoted'>) {
    return this.digest.queue(`model.promoted:${m.id}`, formatModelLine(m));
  }

  @Consume('model.rejected')
  onModelRejected(@Payload() m: EventMessage<'model.rejected'>) {
    return this.digest.queue(`model.rejected:${m.id}`, formatModelLine(m));
  }

  @Consume('storage.quota_warning')
  onQuotaWarning(@Payload() m: EventMessage<'storage.quota_warning'>) {
    return this.alerts.notify('storage.quota_warning', `storage.quota_warning:${m.id}`, formatStorageQuotaWarning(m));
  }
}
