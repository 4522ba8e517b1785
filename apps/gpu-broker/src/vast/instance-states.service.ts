import { Injectable, Logger } from '@nestjs/common';
import type { InstanceStatus } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import type { InstanceEntity } from './instance.entity';
import { InstanceStore } from './instance.store';

type Fields = Partial<Omit<InstanceEntity, 'status' | 'version'>>;

/** Every move of an instance: one guarded write of the contracts' state machine, then one event. */
@Injectable()
export class InstanceStates {
  private readonly log = new Logger('Instances');

  constructor(
    private readonly store: InstanceStore,
    private readonly bus: NatsBus,
  ) {}

  /** false when the row is no longer in a state that may move to `to` (someone else moved it first). */
  async move(row: InstanceEntity, to: InstanceStatus, detail = '', fields: Fields = {}): Promise<boolean> {
    const from = row.status;
    const version = await this.store.transition(row.id, to, fields);
    if (version === null) return false;
    Object.assign(row, fields, { status: to, version });
    await this.bus
      .publish('instance.transitioned', { row: row.id, instanceId: row.vastId, label: row.label, from, to, detail: detail.slice(0, 2000) }, { id: `${row.id}-v${version}` })
      .catch((err) => this.log.warn(`instance.transitioned not sent: ${(err as Error).message}`));
    return true;
  }
}
