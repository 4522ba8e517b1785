import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AlertsService } from './alerts.service';
import { formatModelPromoted, formatModelRejected, formatRunCompleted, formatRunStarted, formatStorageQuotaWarning } from './message-format';

/** Dedupe keys come from the data, not the message id, so a republish under a new id still sends once. */
@Controller()
export class AlertsController {
  constructor(private readonly alerts: AlertsService) {}

  @Consume('run.started')
  onRunStarted(@Payload() m: EventMessage<'run.started'>) {
    return this.alerts.notify('run.started', `run.started:${m.runId}`, formatRunStarted(m));
  }

  @Consume('run.completed')
  onRunCompleted(@Payload() m: EventMessage<'run.completed'>) {
    return this.alerts.notify('run.completed', `run.completed:${m.runId}`, formatRunCompleted(m));
  }

  @Consume('model.promoted')
  onModelPromoted(@Payload() m: EventMessage<'model.promoted'>) {
    return this.alerts.notify('model.promoted', `model.promoted:${m.symbol}:v${m.version}`, formatModelPromoted(m));
  }

  @Consume('model.rejected')
  onModelRejected(@Payload() m: EventMessage<'model.rejected'>) {
    return this.alerts.notify('model.rejected', `model.rejected:${m.symbol}:v${m.version}`, formatModelRejected(m));
  }

  @Consume('storage.quota_warning')
  onQuotaWarning(@Payload() m: EventMessage<'storage.quota_warning'>) {
    return this.alerts.notify('storage.quota_warning', `storage.quota_warning:${m.id}`, formatStorageQuotaWarning(m));
  }
}
