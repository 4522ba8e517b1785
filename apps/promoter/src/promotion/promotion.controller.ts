import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { RegistrationService } from '../registry/registration.service';
import { PromotionService } from './promotion.service';

@Controller()
export class PromotionController {
  constructor(
    private readonly registration: RegistrationService,
    private readonly promotion: PromotionService,
  ) {}

  /** Several at once: per-symbol locks keep version numbers and production right. */
  @Consume('job.succeeded', { concurrency: 4 })
  async onJobSucceeded(@Payload() m: EventMessage<'job.succeeded'>) {
    const version = await this.registration.register(m);
    // Another attempt of the job was registered first: this one is on record, never promoted.
    if (version) await this.promotion.evaluate(version);
  }
}
