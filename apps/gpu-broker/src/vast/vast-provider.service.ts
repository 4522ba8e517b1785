import { join } from 'node:path';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { natsServers } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import { LeaseService } from '../leases/lease.service';
import { InstanceStore } from './instance.store';
import { InstanceWatch } from './instance-watch.service';
import { InstanceProvisioner } from './provisioner.service';
import { ScaleUp } from './scale-up.service';
import { loadOrCreateSshKey } from './ssh-key';
import { InstanceTeardown } from './teardown.service';
import { VastAuthError } from './vast-api';
import { VastContext } from './vast-context';

/** SIGTERM must end the broker within 10 s at any moment: launches get this long to notice, teardown the rest. */
const SHUTDOWN_LAUNCH_GRACE_MS = 2_000;
const SHUTDOWN_DESTROY_MS = 6_000;

/**
 * Renting on Vast.ai, as a loop: each tick beats for this process, finishes what other paths left
 * (orphans, destroys to retry), rents what waiting jobs need, then watches what serves and answers
 * price increases. Each step stands alone, so one failing call never holds up the others.
 */
@Injectable()
export class VastProvider implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Vast');
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;

  constructor(
    private readonly ctx: VastContext,
    private readonly instances: InstanceStore,
    private readonly scale: ScaleUp,
    private readonly provisioner: InstanceProvisioner,
    private readonly watcher: InstanceWatch,
    private readonly teardown: InstanceTeardown,
    private readonly broker: BrokerStore,
    private readonly leases: LeaseService,
    private readonly clock: Clock,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.ctx.configured) return;
    if (!natsServers(this.cfg.NATS_URL).every((u) => /^nats:\/\//.test(u)))
      throw new Error(`VAST_API_KEY is set but NATS_URL ${this.cfg.NATS_URL} is not nats://: rented agents reach NATS through an SSH tunnel to a plain TCP address`);
    if (!this.cfg.S3_BUCKET) this.log.warn('rented agents will write artifacts to ARTIFACTS_DIR on their own disk; set S3_BUCKET unless the instances share this filesystem');
    this.ctx.key = loadOrCreateSshKey(this.cfg.VAST_SSH_KEY_PATH ?? join(this.cfg.DATA_DIR, 'vast_ed25519'));
    // The agent bundle and the gzipped Node are made once; made now, the first instance does not wait for them.
    this.provisioner.prepare();
    await this.instances.beat(this.ctx.bootId, this.clock.now());
    await this.reap().catch((err) => this.log.warn(`reaper: ${(err as Error).message}`));
    this.timers.push(setInterval(() => void this.tick(), Math.min(this.cfg.BROKER_TICK_MS, this.cfg.VAST_POLL_MS)));
    // Jobs no agent has room for are rented for as soon as a placement pass says so, not a tick later.
    this.leases.onLeftWaiting(() => {
      if (!this.ctx.stopping) void this.step('scale-up', () => this.scale.scaleUp());
    });
    this.timers.push(setInterval(() => void this.reap().catch((err) => this.log.warn(`reaper: ${(err as Error).message}`)), this.cfg.VAST_REAP_SECONDS * 1000));
  }

  /**
   * A stopped broker cannot hold the tunnels, so its instances are of no use to anyone: launches are
   * abandoned, everything this process rented is destroyed, all within the time a supervisor waits
   * after SIGTERM. What the API did not confirm in time stays `destroying`, and this process stops
   * beating, so any broker's next reap finishes it.
   */
  async onApplicationShutdown(): Promise<void> {
    this.ctx.beginShutdown();
    this.timers.forEach(clearInterval);
    if (!this.ctx.configured) return;
    await within(SHUTDOWN_LAUNCH_GRACE_MS, this.provisioner.settled());
    await within(SHUTDOWN_DESTROY_MS, this.teardown.destroyAllOf(this.ctx.bootId));
    await this.instances.forgetProcess(this.ctx.bootId).catch(() => undefined);
  }

  /** A broker process not seen for this long has died; its instances are orphans. */
  private get processSilenceMs(): number {
    return Math.max(5000, 10 * Math.min(this.cfg.BROKER_TICK_MS, this.cfg.VAST_POLL_MS));
  }

  private async aliveProcesses(): Promise<Set<string>> {
    return this.instances.liveProcesses(new Date(this.clock.now().getTime() - this.processSilenceMs));
  }

  async tick(): Promise<void> {
    if (this.ticking || this.ctx.stopping || !this.ctx.configured) return;
    this.ticking = true;
    try {
      await this.step('beat', () => this.instances.beat(this.ctx.bootId, this.clock.now()));
      await this.step('orphans', async () => this.teardown.destroyOrphans(await this.aliveProcesses()));
      await this.step('destroy retries', () => this.teardown.retryDestroys());
      await this.step('destroy announcements', () => this.teardown.announceUnannounced());
      await this.step('scale-up', () => this.scale.scaleUp());
      await this.step('watch', () => this.watcher.watch());
      await this.step('price increases', () => this.watcher.reviewPriceIncreases());
    } finally {
      this.ticking = false;
    }
  }

  private async step(name: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (err instanceof VastAuthError) await this.ctx.disable(err.message);
      else this.log.warn(`${name} failed, will try again next tick: ${(err as Error).message}`);
    }
  }

  /** End of a run: instances with nothing to do go now rather than after the idle timeout. */
  async runCompleted(): Promise<void> {
    if (!this.ctx.configured || (await this.broker.hasPending())) return;
    for (const row of await this.instances.withStatus(['ready'])) {
      if (row.bootId !== this.ctx.bootId || !row.agentId) continue;
      if ((await this.broker.activeLeases(undefined, row.agentId)).length === 0) await this.teardown.destroy(row, 'run_completed', 'the run completed and nothing is queued');
    }
  }

  /** Destroys every instance labelled ours that no live row of a live broker process owns; returns how many. */
  async reap(): Promise<number> {
    if (!this.ctx.configured || this.ctx.stopping) return 0;
    return this.teardown.reap(await this.aliveProcesses());
  }
}

const within = (ms: number, work: Promise<unknown>) => Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
