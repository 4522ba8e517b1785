import { Controller, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AttemptVerdicts } from '../registry/attempt-verdict';
import { RegistrationService } from '../registry/registration.service';
import { RegistryStore } from '../registry/registry.store';
import { PromotionService } from './promotion.service';

@Controller()
export class PromotionController {
  private readonly log = new Logger('Promotion');

  constructor(
    private readonly registration: RegistrationService,
    private readonly promotion: PromotionService,
    private readonly verdicts: AttemptVerdicts,
    private readonly store: RegistryStore,
  ) {}

  /**
   * Several at once: per-symbol locks keep version numbers and production right. An attempt is
   * registered only once the scheduler's record says it is the one its job counts; while the
   * scheduler is away the message is retried, for hours (maxDeliver), never dropped.
   */
  @Consume('job.succeeded', { concurrency: 4, maxDeliver: 200 })
  async onJobSucceeded(@Payload() m: EventMessage<'job.succeeded'>) {
    const verdict = await this.verdicts.settle(m);
    if (verdict.kind === 'undecided') throw new Error(`${m.jobId}#${m.attempt} not registered yet: ${verdict.why}`);
    if (verdict.kind === 'fenced') {
      await this.store.recordFenced(m, m.leaseId, verdict.why);
      this.log.warn({
        event: 'fenced_success_ignored',
        jobId: m.jobId,
        runId: m.runId,
        symbol: m.symbol,
        attempt: m.attempt,
        leaseId: m.leaseId,
        artifactsPrefix: m.artifactsPrefix,
        msg: `${m.jobId}#${m.attempt} succeeded, but ${verdict.why}: recorded, not registered`,
      });
      return;
    }
    const registered = await this.registration.register(m, verdict.job);
    // Another attempt of the job was registered first: this one is on record, never promoted.
    if (registered) await this.promotion.evaluate(registered.version, registered.created, registered.production);
  }
}
