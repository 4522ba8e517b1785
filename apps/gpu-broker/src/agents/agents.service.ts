import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EventMessage } from '@trainyard/contracts';
import { Clock } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { CapacityPublisher } from '../capacity/capacity-publisher.service';
import { BrokerStore } from '../leases/broker.store';
import type { LeaseEntity } from '../leases/lease.entity';
import { LeaseService } from '../leases/lease.service';

const UNCONFIRMED_LEASE_MS = 30_000;
/** Longer than a publish may take (JetStream's 5 s timeout), so an announcement still under way is not duplicated. */
const UNANNOUNCED_END_MS = 10_000;

/** Knows which agents are alive from their heartbeats; the leases of one that falls silent are lost. */
@Injectable()
export class AgentsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Agents');
  private timer?: NodeJS.Timeout;
  private ticking = false;

  constructor(
    private readonly store: BrokerStore,
    private readonly leases: LeaseService,
    private readonly capacity: CapacityPublisher,
    private readonly clock: Clock,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.BROKER_TICK_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async heartbeat(hb: EventMessage<'agent.heartbeat'>): Promise<void> {
    const recorded = await this.store.recordHeartbeat(hb);
    if (!recorded) return;
    const { before, after } = recorded;
    if (!before || before.status === 'silent') this.log.log(`agent ${after.id} on ${after.host}: ${after.gpus.length} GPUs, ${after.cpuSlots} CPU slots`);
    if (before && before.startedAt.getTime() !== after.startedAt.getTime()) {
      // A restarted agent forgot what it ran: leases it had before the restart are gone.
      const running = new Set(hb.running.map((r) => r.leaseId));
      for (const lease of await this.store.activeLeases(undefined, after.id)) {
        if (!running.has(lease.id) && lease.createdAt < after.startedAt) await this.leases.lose(lease, `agent ${after.id} restarted`);
      }
    }
    await this.store.trackReported(
      after.id,
      hb.running.map((r) => r.leaseId),
      this.clock.now(),
    );
    await this.learnMemory(hb);
    await this.capacity.refresh();
    await this.leases.dispatch();
  }

  /** A GPU running exactly one of our jobs shows that job's memory; shared GPUs say nothing about any one job. */
  private async learnMemory(hb: EventMessage<'agent.heartbeat'>): Promise<void> {
    if (hb.gpus.length === 0 || hb.running.length === 0) return;
    const running = new Set(hb.running.map((r) => r.leaseId));
    const byDevice = new Map<string, LeaseEntity[]>();
    for (const lease of await this.store.activeLeases(undefined, hb.agentId)) {
      if (!running.has(lease.id) || !lease.device.startsWith('gpu:')) continue;
      byDevice.set(lease.device, [...(byDevice.get(lease.device) ?? []), lease]);
    }
    for (const gpu of hb.gpus) {
      // Only a lease alone on its GPU tells what it uses.
      const [alone, ...others] = byDevice.get(`gpu:${gpu.index}`) ?? [];
      if (alone && others.length === 0 && gpu.memoryUsedMb > 0) await this.store.learnMemory(alone.spec.symbol, gpu.memoryUsedMb / 1024, new Date(hb.occurredAt));
    }
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.clock.now();
      const cutoff = new Date(now.getTime() - this.cfg.BROKER_AGENT_SILENCE_SECONDS * 1000);
      for (const agent of await this.store.silentAgents(cutoff)) {
        if (!(await this.store.markSilent(agent.id, cutoff))) continue;
        this.log.warn(`agent ${agent.id} silent since ${agent.lastSeenAt.toISOString()}`);
        for (const lease of await this.store.activeLeases(undefined, agent.id)) await this.leases.lose(lease, `agent ${agent.id} silent for over ${this.cfg.BROKER_AGENT_SILENCE_SECONDS} s`);
      }
      const unreported = new Date(now.getTime() - this.cfg.BROKER_UNREPORTED_LEASE_SECONDS * 1000);
      for (const lease of await this.store.unreportedLeases(unreported)) {
        await this.leases.lose(lease, `agent ${lease.agentId} has not listed it as running for over ${this.cfg.BROKER_UNREPORTED_LEASE_SECONDS} s`);
      }
      await this.capacity.refresh();
      for (const lease of await this.store.unconfirmedLeases(new Date(now.getTime() - UNCONFIRMED_LEASE_MS))) await this.leases.announce(lease);
      await this.leases.republishOutcomes(new Date(now.getTime() - UNANNOUNCED_END_MS));
      await this.leases.dispatch();
    } catch (err) {
      this.log.warn(`agent check failed, will try again: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }
}
