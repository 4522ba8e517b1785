import { Injectable, Logger } from '@nestjs/common';
import type { KV } from '@nats-io/kv';
import { CAPACITY_KEY, capacityBucket, CapacitySummary } from '@trainyard/contracts';
import { NatsBus } from './nats-bus';

/** The broker's capacity summary, read from its KV bucket (by the scheduler to plan, by the bot for /gpus); null until the broker has written one. */
@Injectable()
export class CapacityView {
  private readonly log = new Logger('CapacityView');
  private bucket?: Promise<KV>;

  constructor(private readonly bus: NatsBus) {}

  async current(): Promise<CapacitySummary | null> {
    try {
      this.bucket ??= this.bus.keyValue(capacityBucket(this.bus.options.prefix));
      const entry = await (await this.bucket).get(CAPACITY_KEY);
      if (!entry || entry.operation !== 'PUT') return null;
      const parsed = CapacitySummary.safeParse(entry.json());
      return parsed.success ? parsed.data : null;
    } catch (err) {
      this.log.warn(`capacity unknown: ${(err as Error).message}`);
      return null;
    }
  }
}
