import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AlertsService } from './alerts.service';
import { DigestService } from './digest.service';
import { formatGaveUpLine, formatInstanceAlert, formatModelLine, formatRolledBackLine, formatRunStarted, formatStorageQuotaWarning } from './message-format';
import { RunReportService } from './run-report.service';

/**
 * Dedupe keys come from the data, not the message id, so a republish under a new id still sends
 * once; model decisions use the promoter's ids, which it derives from the version and decision.
 */
@Controller()
export class AlertsController {
  constructor(
    private readonly alerts: AlertsService,
    private readonly digest: DigestService,
    private readonly runReport: RunReportService,
  ) {}

  @Consume('run.started')
  onRunStarted(@Payload() m: EventMessage<'run.started'>) {
    return this.alerts.notify('run.started', `run.started:${m.runId}`, formatRunStarted(m));
  }

  /** With the promoted symbols and a chart of their equity, once the promoter has decided them (bounded wait). */
  @Consume('run.completed')
  onRunCompleted(@Payload() m: EventMessage<'run.completed'>) {
    return this.runReport.report(m);
  }

  /** Jobs given up on, decisions and rollbacks come one per symbol: they go out together in the next digest. */
  @Consume('job.gave_up')
  onJobGaveUp(@Payload() m: EventMessage<'job.gave_up'>) {
    return this.digest.queue(`job.gave_up:${m.jobId}:${m.attempt}`, formatGaveUpLine(m));
  }

  @Consume('model.promoted')
  onModelPromoted(@Payload() m: EventMessage<'model.promoted'>) {
    return this.digest.queue(`model.promoted:${m.id}`, formatModelLine(m));
  }

  @Consume('model.rejected')
  onModelRejected(@Payload() m: EventMessage<'model.rejected'>) {
    return this.digest.queue(`model.rejected:${m.id}`, formatModelLine(m));
  }

  @Consume('model.rolled_back')
  onModelRolledBack(@Payload() m: EventMessage<'model.rolled_back'>) {
    return this.digest.queue(`model.rolled_back:${m.id}`, formatRolledBackLine(m));
  }

  /** The broker's renting alerts (budget spent, key refused, an instance that will not go away). */
  @Consume('instance.alert')
  onInstanceAlert(@Payload() m: EventMessage<'instance.alert'>) {
    return this.alerts.notify('instance.alert', `instance.alert:${m.id}`, formatInstanceAlert(m));
  }

  @Consume('storage.quota_warning')
  onQuotaWarning(@Payload() m: EventMessage<'storage.quota_warning'>) {
    return this.alerts.notify('storage.quota_warning', `storage.quota_warning:${m.id}`, formatStorageQuotaWarning(m));
  }
}
