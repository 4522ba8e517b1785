import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { DataSource } from 'typeorm';
import { type QueryResponseInput } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { AgentEntity } from '../agents/agent.entity';
import { RENTED_INSTANCES, type RentedInstances } from './rented-instances';
import { BrokerStore } from './broker.store';

/** Answers the bus's question about capacity in use (the bot's /gpus): agents, the leases on them, rented instances. */
@Injectable()
export class BrokerQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private sub?: Subscription;

  constructor(
    private readonly store: BrokerStore,
    @Inject(RENTED_INSTANCES) private readonly rented: RentedInstances,
    private readonly ds: DataSource,
    private readonly bus: NatsBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sub = await this.bus.answer('leases.active', () => this.active());
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sub?.drain();
  }

  async active(): Promise<QueryResponseInput<'leases.active'>> {
    const leases = await this.store.activeLeases();
    const holding = new Set(leases.map((l) => l.agentId));
    const agents = (await this.ds.getRepository(AgentEntity).find({ order: { id: 'ASC' } })).filter((a) => a.status === 'alive' || holding.has(a.id));
    const instances = await this.rented.live();
    return {
      agents: agents.map((a) => ({ agentId: a.id, provider: a.provider, host: a.host, status: a.status, gpus: a.gpus, cpuSlots: a.cpuSlots, lastSeenAt: a.lastSeenAt.toISOString() })),
      leases: leases
        .sort((a, b) => a.agentId.localeCompare(b.agentId) || a.device.localeCompare(b.device) || a.id.localeCompare(b.id))
        .map((l) => ({
          leaseId: l.id,
          jobId: l.jobId,
          runId: l.spec.runId,
          symbol: l.spec.symbol,
          agentId: l.agentId,
          device: l.device,
          gpuMemoryGb: l.gpuMemoryGb,
          pricePerHour: l.pricePerHour,
          status: l.status as 'assigned' | 'running',
          startedAt: l.startedAt?.toISOString() ?? null,
        })),
      instances,
    };
  }
}
