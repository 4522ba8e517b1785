import { Injectable, Logger } from '@nestjs/common';
import type { EventInput } from '@trainyard/contracts';
import { durableName, NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { BrokerStore } from '../leases/broker.store';
import { LeaseService } from '../leases/lease.service';
import type { InstanceEntity } from './instance.entity';
import { attributeSpend, instanceSpend, settleCompute } from './instance-spend';
import { InstanceStates } from './instance-states.service';
import { InstanceStore } from './instance.store';
import { SshSessions } from './ssh-sessions';
import { VastApi, VastAuthError } from './vast-api';
import { VastContext } from './vast-context';

export type DestroyReason = EventInput<'instance.destroyed'>['reason'];

const DESTROY_ALERT_AFTER = 5;

/**
 * The one place an instance dies: destroyed on purpose (idle, runtime, failure, outbid, shutdown),
 * reaped after a crash, found by its label after a create whose answer was lost. Each ends with the
 * API's confirmation, the row `destroyed` and an `instance.destroyed` carrying what it cost.
 */
@Injectable()
export class InstanceTeardown {
  private readonly log = new Logger('Vast');
  private readonly inProgress = new Set<string>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly api: VastApi,
    private readonly store: InstanceStore,
    private readonly states: InstanceStates,
    private readonly sessions: SshSessions,
    private readonly broker: BrokerStore,
    private readonly leases: LeaseService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    private readonly ctx: VastContext,
  ) {}

  isDestroying(rowId: string): boolean {
    return this.inProgress.has(rowId);
  }

  /**
   * Leases on the instance are lost (their jobs go back to the scheduler and resume from their last
   * checkpoint), then the API is asked until it confirms the instance is gone; a failed attempt
   * leaves the row `destroying` for the next tick. A second call for a row already going is a no-op,
   * so the first reason and time stand.
   */
  async destroy(row: InstanceEntity, reason: DestroyReason, detail: string): Promise<void> {
    if (this.inProgress.has(row.id)) return;
    this.inProgress.add(row.id);
    try {
      if (row.status !== 'destroying') {
        const moved = await this.states.move(row, 'destroying', `${reason}: ${detail}`, { destroyReason: reason, detail: detail.slice(0, 2000) });
        if (!moved) {
          const now = await this.store.get(row.id);
          if (now?.status !== 'destroying') return;
          Object.assign(row, now);
        } else this.log.log(`destroying instance ${row.vastId ?? '(not created)'}: ${reason}${detail ? ` (${detail.slice(0, 200)})` : ''}`);
      }
      this.sessions.close(row.id);
      if (row.agentId) {
        await this.broker.retireAgent(row.agentId);
        for (const lease of await this.broker.activeLeases(undefined, row.agentId)) await this.leases.lose(lease, `instance ${row.vastId} destroyed (${row.destroyReason ?? reason})`);
      }
      if (row.vastId === null) {
        // The create may have acted without its answer reaching us: the label says.
        const found = await this.api.findByLabel(row.label);
        if (found) {
          row.vastId = found.id;
          await this.store.update(row.id, { vastId: found.id });
        }
      }
      const gone = row.vastId === null ? { outcome: 'never created', at: this.clock.now() } : await this.api.destroyInstance(row.vastId);
      const why = row.detail ?? detail;
      await this.markDestroyed(row, (row.destroyReason as DestroyReason | null) ?? reason, `${why}${why ? '; ' : ''}${gone.outcome}`, gone.at);
      if (row.agentId) await this.forgetAgentConsumers(row.agentId);
      this.failures.delete(row.id);
    } catch (err) {
      if (err instanceof VastAuthError) await this.ctx.disable(err.message);
      const failures = (this.failures.get(row.id) ?? 0) + 1;
      this.failures.set(row.id, failures);
      this.log.warn(`destroy of instance ${row.vastId} failed (${failures}): ${(err as Error).message}; retrying`);
      if (failures === DESTROY_ALERT_AFTER) await this.ctx.alert('destroy_failing', `instance ${row.vastId} could not be destroyed after ${failures} tries: ${(err as Error).message}`, row.vastId);
    } finally {
      this.inProgress.delete(row.id);
    }
  }

  /** A create refused before it acted: nothing exists, nothing bills. */
  async refused(row: InstanceEntity, detail: string): Promise<void> {
    await this.states.move(row, 'destroyed', detail, { destroyedAt: this.clock.now(), destroyReason: 'failed', detail: detail.slice(0, 2000) });
  }

  async retryDestroys(): Promise<void> {
    for (const row of await this.store.withStatus(['destroying'])) {
      if (!this.inProgress.has(row.id)) await this.destroy(row, (row.destroyReason as DestroyReason | null) ?? 'failed', row.detail ?? '');
    }
  }

  /** Rows of broker processes that stopped beating: nothing holds their tunnel any more. */
  async destroyOrphans(aliveProcesses: Set<string>): Promise<void> {
    for (const row of await this.store.orphans(aliveProcesses)) await this.destroy(row, 'orphan', 'its broker process stopped without destroying it');
  }

  /** Lists every instance of the account and destroys each labelled ours that no live row of a live broker process owns. */
  async reap(aliveProcesses: Set<string>): Promise<number> {
    await this.destroyOrphans(aliveProcesses);
    const live = await this.store.live();
    const owned = new Set(live.filter((r) => aliveProcesses.has(r.bootId) && r.status !== 'destroying').map((r) => r.label));
    let reaped = 0;
    for (const inst of await this.api.listInstances()) {
      const label = inst.label ?? '';
      if (!label.startsWith(this.ctx.labelPrefix) || owned.has(label)) continue;
      this.log.warn(`reaping instance ${inst.id} (${label}): no live lease owns it`);
      const row = live.find((r) => r.label === label || r.vastId === inst.id);
      if (row) {
        if (row.vastId === null) await this.store.update(row.id, { vastId: inst.id });
        row.vastId = inst.id;
        await this.destroy(row, 'orphan', 'reaped: no live broker process owns it');
      } else await this.api.destroyInstance(inst.id);
      reaped++;
    }
    return reaped;
  }

  /** Everything this process rented (a stopped broker cannot hold the tunnels); bounded by the caller. */
  async destroyAllOf(bootId: string): Promise<void> {
    const mine = (await this.store.live()).filter((r) => r.bootId === bootId);
    await Promise.allSettled(mine.map((r) => this.destroy(r, 'shutdown', 'the broker stopped')));
  }

  /** `billedUntil`: when the provider stopped billing, as the destroy call tells; the row's destroy time. */
  private async markDestroyed(row: InstanceEntity, reason: DestroyReason, detail: string, billedUntil: Date): Promise<void> {
    const end = new Date(Math.max(billedUntil.getTime(), row.createdAt.getTime()));
    const moved = await this.states.move(row, 'destroyed', detail, {
      destroyedAt: end,
      destroyReason: reason,
      detail: detail.slice(0, 2000),
      destroyedPublished: row.vastId === null,
      ...settleCompute(row, end, false),
    });
    if (!moved || row.vastId === null) return;
    await this.announceDestroyed(row);
  }

  /**
   * instance.destroyed, computed from the row alone (the bill and each run's share of it), so one
   * whose publish failed is announced again, identically, by `announceUnannounced`.
   */
  private async announceDestroyed(row: InstanceEntity): Promise<void> {
    const end = row.destroyedAt!;
    const spend = instanceSpend(row, end);
    const byRun = row.agentId ? await this.store.leaseSecondsByRun(row.agentId, end) : new Map<string, number>();
    const runs = attributeSpend(spend.total, byRun, row.runId);
    const seconds = (end.getTime() - row.createdAt.getTime()) / 1000;
    await this.bus.publish(
      'instance.destroyed',
      { ...instanceRef(row), reason: row.destroyReason as DestroyReason, detail: (row.detail ?? '').slice(0, 2000), seconds, cost: spend.total, compute: spend.compute, storage: spend.storage, runs },
      { id: `${row.id}-destroyed` },
    );
    await this.store.update(row.id, { destroyedPublished: true });
  }

  /** Destructions whose announcement has not reached the bus for 10 s (longer than a publish may take): JetStream was unavailable then. */
  async announceUnannounced(): Promise<void> {
    for (const row of await this.store.unannouncedDestroyed(new Date(this.clock.now().getTime() - 10_000))) await this.announceDestroyed(row);
  }

  /** Each agent has durable consumers of its own (assignments, cancels); one set per rented machine would pile up day after day. */
  private async forgetAgentConsumers(agentId: string): Promise<void> {
    for (const filter of [`agent.${agentId}.assign`, `job.cancel.${agentId}`]) {
      await this.bus.jsm.consumers.delete(this.bus.streamName, durableName('agent', filter)).catch(() => undefined);
    }
  }
}

export const instanceRef = (row: InstanceEntity) => ({
  instanceId: row.vastId!,
  label: row.label,
  gpuName: row.gpuName,
  numGpus: row.numGpus,
  pricePerHour: row.pricePerHour,
  interruptible: row.interruptible,
});
