import { Inject, Injectable, Logger } from '@nestjs/common';
import { CAPACITY_KEY, capacityBucket, type CapacitySummary } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import type { KV } from '@nats-io/kv';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import { RENTED_INSTANCES, type RentedInstances } from '../leases/rented-instances';

/** Before any instance was rented here: Vast's image pull and start, then the bootstrap (VAST.md: minutes are common). */
const DEFAULT_PROVISION_SECONDS = 300;

/** Keeps the capacity summary in its KV bucket current, writing only when it changes. */
@Injectable()
export class CapacityPublisher {
  private readonly log = new Logger('Capacity');
  private bucket?: Promise<KV>;
  private last = '';

  constructor(
    private readonly store: BrokerStore,
    @Inject(RENTED_INSTANCES) private readonly rented: RentedInstances,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  async refresh(): Promise<void> {
    const agents = (await this.store.allAgents()).filter((a) => a.status === 'alive');
    const shape = {
      agents: agents.length,
      gpus: agents.reduce((n, a) => n + a.gpus.length, 0),
      cpuSlots: agents.reduce((n, a) => n + a.cpuSlots, 0),
      pricePerHour: await this.slotPrice(agents),
      ...(await this.rental(agents)),
    };
    const key = JSON.stringify(shape);
    if (key === this.last) return;
    const summary: CapacitySummary = { ...shape, updatedAt: this.clock.now().toISOString() };
    this.bucket ??= this.bus.keyValue(capacityBucket(this.bus.options.prefix));
    await (await this.bucket).put(CAPACITY_KEY, JSON.stringify(summary));
    this.last = key;
    this.log.log(`capacity: ${shape.agents} agents, ${shape.gpus} GPUs, ${shape.cpuSlots} CPU slots`);
  }

  /** When work would go to rented instances: what each costs before it works (boot and bootstrap, as past instances took), for forecasts. */
  private async rental(alive: { id: string; provider: string }[]): Promise<Pick<CapacitySummary, 'rental'>> {
    if (!this.cfg.VAST_API_KEY || alive.some((a) => a.provider === 'local')) return {};
    const provisionSeconds = Math.round((await this.rented.typicalProvisionSeconds()) ?? DEFAULT_PROVISION_SECONDS);
    return { rental: { provisionSeconds, maxInstances: this.cfg.VAST_MAX_INSTANCES, pricePerHour: await this.slotPrice(alive) } };
  }

  /** Forecasts price work where it would run: on local agents when there are any, else on the rented ones. */
  private async slotPrice(alive: { id: string; provider: string }[]): Promise<number> {
    if (alive.some((a) => a.provider === 'local')) return this.cfg.BROKER_LOCAL_PRICE_PER_HOUR;
    const rented = [...(await this.rented.placeableAgents(this.store.manager)).values()];
    return rented.length ? rented.reduce((a, b) => a + b, 0) / rented.length : this.cfg.BROKER_LOCAL_PRICE_PER_HOUR;
  }
}
