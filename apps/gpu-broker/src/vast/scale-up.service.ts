import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CoalescedPasses } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore, type PendingRequest } from '../leases/broker.store';
import { gpuMemoryNeed, LeaseService } from '../leases/lease.service';
import type { AgentCapacity } from '../leases/placement';
import { InstanceStore } from './instance.store';
import { offerQuery, rankOffers, type OfferRequirements } from './offer-selection';
import { InstanceProvisioner } from './provisioner.service';
import { instancesToRent } from './rent-plan';
import { VastApi } from './vast-api';
import { VastContext } from './vast-context';

const SERVING = new Set(['ready', 'busy']);

interface Fleet {
  servingAgents: Set<string>;
  inFlight: number;
  counted: number;
}

/** An alert about a state that lasts (no offers, no agent to send) is sent again at most this often. */
const REPEAT_ALERT_MS = 3_600_000;

/**
 * Decides how many instances to rent and which offers: only for jobs that a finished placement pass
 * (or a tick's worth of them) left waiting, so local room is always used first, and that nothing
 * serving or coming up can hold; within VAST_MAX_INSTANCES (launches in flight count from their
 * first create), within the daily budget, cheapest offer first. One decision at a time: each counts
 * the launches the one before it started.
 */
@Injectable()
export class ScaleUp {
  private readonly log = new Logger('Vast');
  private budgetAlertDay: string | null = null;
  private noOffersAlertAt = 0;
  private unsendableAlertAt = 0;
  private readonly passes = new CoalescedPasses<'scale-up', void>(() => this.decide());

  constructor(
    private readonly api: VastApi,
    private readonly store: InstanceStore,
    private readonly broker: BrokerStore,
    private readonly leases: LeaseService,
    private readonly provisioner: InstanceProvisioner,
    private readonly clock: Clock,
    private readonly ctx: VastContext,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  scaleUp(): Promise<void> {
    return this.passes.run('scale-up');
  }

  private async decide(): Promise<void> {
    if (!this.ctx.enabled) return;
    // At the limit, the waiting jobs are not read at all: passes that leave jobs waiting are frequent in a big run.
    const fleet = await this.fleet(0);
    if (fleet.counted >= this.cfg.VAST_MAX_INSTANCES) return;
    const now = this.clock.now();
    const considered = this.leases.consideredBefore?.getTime() ?? 0;
    const waiting = await this.broker.waitingSince(new Date(Math.max(now.getTime() - this.cfg.BROKER_TICK_MS, considered)));
    const [oldest] = waiting;
    if (!oldest) return;
    const wanted = await this.toRent(waiting, fleet);
    if (wanted <= 0) return;
    // An instance rented for an agent that cannot be sent would only be paid for and destroyed.
    const unsendable = await this.provisioner.unsendable();
    if (unsendable) {
      if (now.getTime() - this.unsendableAlertAt > REPEAT_ALERT_MS) {
        this.unsendableAlertAt = now.getTime();
        await this.ctx.alert('provision_failed', `nothing rented for ${waiting.length} waiting jobs: ${unsendable}`, null);
      }
      return;
    }
    const requirements = this.requirements();
    const ranked = rankOffers(await this.api.searchOffers(offerQuery(requirements)), requirements).filter((o) => this.provisioner.available(o.offer.id));
    const [best] = ranked;
    if (!best) {
      if (now.getTime() - this.noOffersAlertAt > REPEAT_ALERT_MS) {
        this.noOffersAlertAt = now.getTime();
        await this.ctx.alert('no_offers', `no Vast.ai offer meets the requirements for ${waiting.length} waiting jobs`, null);
      }
      return;
    }
    for (let i = 0; i < wanted; i++) {
      if (!(await this.withinBudget(best.pricePerHour * (i + 1)))) return;
      const first = waiting[i] ?? oldest;
      // Asked again right before each create, not counting this launch: a ready instance may have taken the jobs meanwhile.
      this.provisioner.launch(
        ranked,
        { ref: `${first.jobId}-a${first.attempt}`, runId: first.runId },
        async () => (await this.toRent((await this.broker.dispatchState()).pending, await this.fleet(1))) > 0,
      );
    }
  }

  /**
   * This process's instances: the agents of those serving, and how many count against the limit,
   * `excluding` fewer of the launches in flight (the one asking). A launch holds at most one
   * instance; rows it made are its own, so only rows past bootstrapping add to it.
   */
  private async fleet(excluding: number): Promise<Fleet> {
    const live = (await this.store.live()).filter((r) => r.bootId === this.ctx.bootId);
    const inFlight = Math.max(0, this.provisioner.inFlight - excluding);
    return {
      servingAgents: new Set(live.filter((r) => SERVING.has(r.status) && r.agentId).map((r) => r.agentId!)),
      inFlight,
      counted: inFlight + live.filter((r) => !['creating', 'booting', 'bootstrapping'].includes(r.status)).length,
    };
  }

  /** Instances to rent for `waiting`, beside what `fleet` serves and has coming up. */
  private async toRent(waiting: Array<Pick<PendingRequest, 'symbol' | 'gpuMemoryGb'>>, { servingAgents, inFlight, counted }: Fleet): Promise<number> {
    if (waiting.length === 0) return 0;
    const state = await this.broker.dispatchState();
    const serving: AgentCapacity[] = state.agents.filter((a) => servingAgents.has(a.id));
    const usage = new Map([...state.usage].filter(([agentId]) => servingAgents.has(agentId)));
    const learned = await this.broker.learnedMemory(this.broker.manager, [...new Set(waiting.map((w) => w.symbol))]);
    return instancesToRent({
      needs: waiting.map((w) => gpuMemoryNeed(w.gpuMemoryGb, learned.get(w.symbol), this.cfg.BROKER_LEARNED_MEMORY_HEADROOM)),
      serving,
      usage,
      comingUp: inFlight,
      fresh: (id) => ({
        id,
        gpus: Array.from({ length: this.cfg.VAST_NUM_GPUS }, (_, index) => ({ index, name: 'planned', memoryTotalMb: this.cfg.VAST_MIN_GPU_MEMORY_GB * 1024, memoryUsedMb: 0, utilization: 0 })),
        cpuSlots: this.expectedCpuSlots(),
      }),
      counted,
      maxInstances: this.cfg.VAST_MAX_INSTANCES,
      rules: { maxJobsPerGpu: this.cfg.BROKER_MAX_JOBS_PER_GPU, memoryMargin: this.cfg.BROKER_GPU_MEMORY_MARGIN },
    });
  }

  private expectedCpuSlots(): number {
    const slots = this.cfg.VAST_AGENT_ENV.find((kv) => kv.startsWith('AGENT_CPU_SLOTS='));
    return slots ? Math.max(1, Number(slots.split('=')[1]) || 1) : 1;
  }

  requirements(): OfferRequirements {
    return {
      gpuTypes: this.cfg.VAST_GPU_TYPES,
      minGpuMemoryGb: this.cfg.VAST_MIN_GPU_MEMORY_GB,
      numGpus: this.cfg.VAST_NUM_GPUS,
      minReliability: this.cfg.VAST_MIN_RELIABILITY,
      maxPricePerHour: this.cfg.VAST_MAX_PRICE_PER_HOUR,
      diskGb: this.cfg.VAST_DISK_GB,
      interruptible: this.cfg.VAST_INTERRUPTIBLE,
    };
  }

  /** Today's spend so far (as billed) plus an hour of the new instances (or their whole max runtime, if shorter) must fit the daily budget. */
  private async withinBudget(pricePerHour: number): Promise<boolean> {
    const now = this.clock.now();
    const day = now.toISOString().slice(0, 10);
    const spent = await this.store.spentSince(new Date(`${day}T00:00:00Z`), now);
    const projected = spent + pricePerHour * Math.min(1, this.cfg.VAST_MAX_RUNTIME_MINUTES / 60);
    if (projected <= this.cfg.VAST_DAILY_BUDGET_USD) return true;
    if (this.budgetAlertDay !== day) {
      this.budgetAlertDay = day;
      const message = `daily Vast.ai budget of $${this.cfg.VAST_DAILY_BUDGET_USD.toFixed(2)} reached ($${spent.toFixed(2)} spent today): renting stops until tomorrow; waiting jobs stay queued for local capacity`;
      this.log.warn(message);
      await this.ctx.alert('budget_exhausted', message, null);
    }
    return false;
  }
}
