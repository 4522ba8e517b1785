import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import type { InstanceEntity } from './instance.entity';
import { settleCompute } from './instance-spend';
import { InstanceStates } from './instance-states.service';
import { InstanceStore } from './instance.store';
import { provisionState } from './offer-selection';
import { servingStep } from './serving-rules';
import { SshSessions } from './ssh-sessions';
import { InstanceTeardown } from './teardown.service';
import { VastApi, VastApiError, VastAuthError } from './vast-api';
import { VastContext } from './vast-context';

/**
 * Watches the instances that serve: ready ⇄ busy as leases come and go, idle too long, past its
 * runtime (unless a job it holds may still run: it drains instead), stopped by its host (outbid),
 * and hosts' price increases. Whatever must die goes to teardown.
 */
@Injectable()
export class InstanceWatch {
  private readonly log = new Logger('Vast');
  private readonly lastPolled = new Map<string, number>();
  private lastPriceReview = 0;

  constructor(
    private readonly api: VastApi,
    private readonly store: InstanceStore,
    private readonly states: InstanceStates,
    private readonly teardown: InstanceTeardown,
    private readonly sessions: SshSessions,
    private readonly broker: BrokerStore,
    private readonly clock: Clock,
    private readonly ctx: VastContext,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  async watch(): Promise<void> {
    for (const row of await this.store.withStatus(['ready', 'busy', 'draining'])) {
      if (row.bootId !== this.ctx.bootId || this.teardown.isDestroying(row.id)) continue;
      try {
        await this.watchOne(row);
      } catch (err) {
        if (err instanceof VastAuthError) throw err;
        this.log.warn(`watching instance ${row.vastId}: ${(err as Error).message}`);
      }
    }
  }

  private async watchOne(row: InstanceEntity): Promise<void> {
    const now = this.clock.now();
    const leases = await this.broker.activeLeases(undefined, row.agentId!);
    const step = servingStep({
      status: row.status as 'ready' | 'busy' | 'draining',
      now: now.getTime(),
      createdAt: row.createdAt.getTime(),
      lastBusyAt: (row.lastBusyAt ?? row.readyAt ?? row.createdAt).getTime(),
      leaseEnds: leases.map((l) => l.endsBy.getTime()),
      maxRuntimeMs: this.cfg.VAST_MAX_RUNTIME_MINUTES * 60_000,
      idleMs: this.cfg.VAST_IDLE_SECONDS * 1000,
    });
    if (step.kind === 'destroy')
      return this.teardown.destroy(row, step.reason, step.reason === 'max_runtime' ? `${step.detail} (VAST_MAX_RUNTIME_MINUTES=${this.cfg.VAST_MAX_RUNTIME_MINUTES})` : step.detail);
    if (step.kind === 'move') await this.states.move(row, step.to, step.detail, step.to === 'ready' ? { lastBusyAt: now } : {});
    await this.poll(row, now.getTime());
  }

  /** The API's view: an instance its host stopped (outbid) or lost bills no compute from then on, and is destroyed. */
  private async poll(row: InstanceEntity, now: number): Promise<void> {
    const last = this.lastPolled.get(row.id) ?? 0;
    if (now - last < this.cfg.VAST_POLL_MS) return;
    this.lastPolled.set(row.id, now);
    let state: ReturnType<typeof provisionState>;
    try {
      state = provisionState(await this.api.showInstance(row.vastId!));
    } catch (err) {
      // Rate-limited or a 5xx: nothing learned, ask again next time.
      if (err instanceof VastApiError && !(err instanceof VastAuthError)) return;
      throw err;
    }
    if (state.kind !== 'failed') return;
    // A stopped container drops our SSH connection at once: that moment, when it fell between the two polls, is when compute stopped.
    const dropped = this.sessions.droppedAt(row.id);
    const stoppedAt = new Date(dropped !== undefined && dropped > last ? dropped : last > 0 ? (last + now) / 2 : now);
    await this.store.update(row.id, settleCompute(row, stoppedAt, false));
    Object.assign(row, settleCompute(row, stoppedAt, false));
    this.lastPolled.delete(row.id);
    await this.teardown.destroy(row, state.outbid ? 'outbid' : 'failed', state.reason);
  }

  /**
   * Hosts may ask more for a running contract. Within VAST_MAX_PRICE_PER_HOUR the increase is
   * accepted, compute so far is settled at the old price, and later leases on the instance are
   * priced by the new one; above, it is refused, and an instance the host then stops is handled like any that fails.
   */
  async reviewPriceIncreases(): Promise<void> {
    const now = this.clock.now();
    if (now.getTime() - this.lastPriceReview < this.cfg.VAST_POLL_MS) return;
    this.lastPriceReview = now.getTime();
    const ours = new Map((await this.store.live()).filter((r) => r.bootId === this.ctx.bootId && r.vastId !== null).map((r) => [r.vastId!, r]));
    if (ours.size === 0) return;
    for (const p of await this.api.pendingPriceIncreases()) {
      const row = ours.get(p.instanceId);
      if (!row) continue;
      // The increase is on compute; the disk's part of our price stays as it was.
      const newPrice = row.pricePerHour + (p.newPerHour - p.oldPerHour);
      const accept = newPrice <= this.cfg.VAST_MAX_PRICE_PER_HOUR;
      await this.api.answerPriceIncrease(p.id, accept);
      this.log.warn({
        event: accept ? 'price_increase_accepted' : 'price_increase_refused',
        instanceId: row.vastId,
        from: row.pricePerHour,
        to: newPrice,
        msg: `instance ${row.vastId}: price increase to $${newPrice.toFixed(3)}/h ${accept ? 'accepted' : `refused (above VAST_MAX_PRICE_PER_HOUR=${this.cfg.VAST_MAX_PRICE_PER_HOUR})`}`,
      });
      if (accept) await this.store.update(row.id, { pricePerHour: newPrice, ...settleCompute(row, this.clock.now(), row.runningSince !== null) });
    }
  }
}
