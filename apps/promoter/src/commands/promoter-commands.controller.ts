import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume, NatsBus, runCommand } from '@trainyard/messaging';
import { ManualPromotionService } from '../promotion/manual-promotion.service';
import { keyName, keyOf } from '../registry/model-key';

const was = (v: number | null) => (v === null ? 'none before' : `was v${v}`);

/** Operators' model commands from the bus, through the same service as POST /models/:symbol/promote and /rollback. */
@Controller()
export class PromoterCommandsController {
  constructor(
    private readonly manual: ManualPromotionService,
    private readonly bus: NatsBus,
  ) {}

  @Consume('model.promote')
  onPromote(@Payload() m: EventMessage<'model.promote'>) {
    return runCommand(this.bus, 'model.promote', m, async () => {
      const done = await this.manual.promote(keyOf(m.symbol, m.variant), m.version, m.reason ?? `promoted by ${m.requestedBy}`, m.id);
      return `${keyName(done)} v${done.version} is in production (${was(done.fromVersion)})`;
    });
  }

  @Consume('model.rollback')
  onRollback(@Payload() m: EventMessage<'model.rollback'>) {
    return runCommand(this.bus, 'model.rollback', m, async () => {
      const done = await this.manual.rollback(keyOf(m.symbol, m.variant), m.version, m.reason ?? `rolled back by ${m.requestedBy}`, m.id);
      return `${keyName(done)} rolled back to v${done.version} (${was(done.fromVersion)})`;
    });
  }
}
