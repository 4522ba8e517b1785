import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { createGzip } from 'node:zlib';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { EventInput } from '@trainyard/contracts';
import { durableName, NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import { LeaseService } from '../leases/lease.service';
import { findPlacement, occupy, type AgentCapacity, type SlotUsage } from '../leases/placement';
import { AgentBundler } from './agent-bundle';
import { InstanceEntity } from './instance.entity';
import { InstanceStore } from './instance.store';
import { offerQuery, provisionState, rankOffers, type OfferRequirements } from './offer-selection';
import { SshGateway, type SshSession } from './ssh-gateway';
import { loadOrCreateSshKey, type SshKeyPair } from './ssh-key';
import { VastApi, VastAuthError } from './vast-api';
import type { VastOffer } from './vast.types';

type DestroyReason = EventInput<'instance.destroyed'>['reason'];
type AlertKind = EventInput<'instance.alert'>['kind'];

/** The instance will not serve: destroy it and try the next offer. */
class ProvisionFailure extends Error {}

const DESTROY_ALERT_AFTER = 5;
const SSH_CONNECT_WINDOW_MS = 90_000;
const AGENT_REGISTER_WINDOW_MS = 120_000;

/**
 * Rents Vast.ai instances when queued work exceeds the agents we have, turns each into an agent
 * (SSH bootstrap, NATS through a tunnel we hold), and destroys every one of them: when idle, past
 * its max runtime, at the end of a run, on any failure, and, through the reaper, after a crash.
 */
@Injectable()
export class VastProvider implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Vast');
  /** This process's life; instances recorded under another one have lost their tunnel. */
  readonly bootId = randomUUID();
  private readonly sessions = new Map<string, SshSession>();
  private readonly launching = new Set<Promise<void>>();
  private readonly destroying = new Set<string>();
  private readonly destroyFailures = new Map<string, number>();
  private readonly claimedOffers = new Set<number>();
  private readonly lastPolled = new Map<string, number>();
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private stopping = false;
  private disabledReason: string | null = null;
  private budgetAlertDay: string | null = null;
  private noOffersAlertAt = 0;
  private lastPriceReview = 0;
  private key: SshKeyPair | null = null;

  constructor(
    private readonly api: VastApi,
    private readonly ssh: SshGateway,
    private readonly bundler: AgentBundler,
    private readonly instances: InstanceStore,
    private readonly broker: BrokerStore,
    private readonly leases: LeaseService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  get enabled(): boolean {
    return this.api.enabled && !this.disabledReason;
  }

  get installation(): string {
    return this.cfg.VAST_INSTALLATION ?? this.cfg.TRAINYARD_PREFIX;
  }

  /** Every label of ours starts so; other installations on the same account are never touched. */
  get labelPrefix(): string {
    return `trainyard.${this.installation}.`;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.api.enabled) return;
    if (!/^nats:\/\//.test(this.cfg.NATS_URL)) throw new Error(`VAST_API_KEY is set but NATS_URL ${this.cfg.NATS_URL} is not nats://: rented agents reach NATS through an SSH tunnel to a plain TCP address`);
    if (!this.cfg.S3_BUCKET) this.log.warn('rented agents will write artifacts to ARTIFACTS_DIR on their own disk; set S3_BUCKET unless the instances share this filesystem');
    this.key = loadOrCreateSshKey(this.cfg.VAST_SSH_KEY_PATH ?? join(this.cfg.DATA_DIR, 'vast_ed25519'));
    await this.instances.beat(this.bootId, this.clock.now());
    await this.reap().catch((err) => this.log.warn(`reaper: ${(err as Error).message}`));
    this.timers.push(setInterval(() => void this.tick(), Math.min(this.cfg.BROKER_TICK_MS, this.cfg.VAST_POLL_MS)));
    this.timers.push(setInterval(() => void this.reap().catch((err) => this.log.warn(`reaper: ${(err as Error).message}`)), this.cfg.VAST_REAP_SECONDS * 1000));
  }

  /** A stopped broker cannot hold the tunnels, so its instances are of no use to anyone: destroy them. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.timers.forEach(clearInterval);
    if (!this.api.enabled) return;
    await Promise.allSettled([...this.launching]);
    const live = await this.instances.live();
    await Promise.allSettled(live.filter((r) => r.bootId === this.bootId).map((r) => this.destroy(r, 'shutdown', 'the broker stopped')));
    await this.instances.forgetProcess(this.bootId).catch(() => undefined);
  }

  /** A broker process not seen for this long has died; its instances are orphans. */
  private get processSilenceMs(): number {
    return Math.max(5000, 10 * Math.min(this.cfg.BROKER_TICK_MS, this.cfg.VAST_POLL_MS));
  }

  private async aliveProcesses(): Promise<Set<string>> {
    return this.instances.liveProcesses(new Date(this.clock.now().getTime() - this.processSilenceMs));
  }

  private async destroyOrphans(): Promise<void> {
    for (const row of await this.instances.orphans(await this.aliveProcesses())) await this.destroy(row, 'orphan', 'its broker process stopped without destroying it');
  }

  async tick(): Promise<void> {
    if (this.ticking || this.stopping || !this.api.enabled) return;
    this.ticking = true;
    try {
      await this.instances.beat(this.bootId, this.clock.now());
      await this.destroyOrphans();
      await this.retryDestroys();
      await this.watchReady();
      await this.reviewPriceIncreases();
      if (this.enabled) await this.scaleUp();
    } catch (err) {
      if (err instanceof VastAuthError) await this.disable(err.message);
      else this.log.warn(`tick failed, will try again: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** End of a run: instances with nothing to do go now rather than after the idle timeout. */
  async runCompleted(): Promise<void> {
    if (!this.api.enabled || (await this.broker.hasPending())) return;
    for (const row of await this.instances.withStatus(['ready'])) {
      if (row.bootId !== this.bootId || !row.agentId) continue;
      if ((await this.broker.activeLeases(undefined, row.agentId)).length === 0) await this.destroy(row, 'run_completed', 'the run completed and nothing is queued');
    }
  }

  /** Lists every instance of the account and destroys each labelled ours that no live row of a live broker process owns. */
  async reap(): Promise<number> {
    if (!this.api.enabled || this.stopping) return 0;
    await this.destroyOrphans();
    const alive = await this.aliveProcesses();
    const owned = new Set((await this.instances.live()).filter((r) => alive.has(r.bootId) && r.status !== 'destroying').map((r) => r.label));
    let reaped = 0;
    for (const inst of await this.api.listInstances()) {
      const label = inst.label ?? '';
      if (!label.startsWith(this.labelPrefix) || owned.has(label)) continue;
      this.log.warn(`reaping instance ${inst.id} (${label}): no live lease owns it`);
      const gone = await this.api.destroyInstance(inst.id);
      const row = (await this.instances.live()).find((r) => r.label === label || r.vastId === inst.id);
      if (row) await this.markDestroyed(row, 'orphan', `reaped (${gone})`);
      reaped++;
    }
    return reaped;
  }

  private async disable(reason: string): Promise<void> {
    if (this.disabledReason) return;
    this.disabledReason = reason;
    this.log.error(`renting on Vast.ai is off: ${reason}`);
    await this.alert('auth_failed', reason, null);
  }

  private async scaleUp(): Promise<void> {
    const now = this.clock.now();
    const waiting = await this.broker.waitingSince(new Date(now.getTime() - this.cfg.BROKER_TICK_MS));
    if (waiting.length === 0) return;
    const live = (await this.instances.live()).filter((r) => r.bootId === this.bootId && r.status !== 'destroying');
    const room = this.cfg.VAST_MAX_INSTANCES - live.length;
    if (room <= 0) return;
    const wanted = Math.min(room, this.instancesNeeded(waiting.map((w) => w.spec.resources.gpuMemoryGb), live.filter((r) => r.status !== 'ready')));
    if (wanted <= 0) return;
    const ranked = rankOffers(await this.api.searchOffers(offerQuery(this.requirements())), this.requirements()).filter((o) => !this.claimedOffers.has(o.offer.id));
    if (ranked.length === 0) {
      if (now.getTime() - this.noOffersAlertAt > 3_600_000) {
        this.noOffersAlertAt = now.getTime();
        await this.alert('no_offers', `no Vast.ai offer meets the requirements for ${waiting.length} waiting jobs`, null);
      }
      return;
    }
    for (let i = 0; i < wanted; i++) {
      if (!(await this.withinBudget(ranked[0].pricePerHour))) return;
      const first = waiting[i] ?? waiting[0];
      const launch = this.launch(ranked, `${first.jobId}-a${first.attempt}`).finally(() => this.launching.delete(launch));
      this.launching.add(launch);
    }
  }

  /** How many more instances the waiting jobs need, counting what instances still coming up will hold. */
  private instancesNeeded(needs: number[], comingUp: InstanceEntity[]): number {
    const rules = { maxJobsPerGpu: this.cfg.BROKER_MAX_JOBS_PER_GPU, memoryMargin: this.cfg.BROKER_GPU_MEMORY_MARGIN };
    const virtual = (id: string, gpus: number, gpuMemoryGb: number): AgentCapacity => ({
      id,
      gpus: Array.from({ length: gpus }, (_, index) => ({ index, name: 'planned', memoryTotalMb: gpuMemoryGb * 1024, memoryUsedMb: 0, utilization: 0 })),
      cpuSlots: this.expectedCpuSlots(),
    });
    const agents = comingUp.map((r) => virtual(r.id, r.numGpus, r.gpuMemoryGb));
    const usage = new Map<string, SlotUsage>();
    let added = 0;
    for (const need of needs) {
      let placement = findPlacement(need, agents, usage, rules);
      if (!placement) {
        const fresh = virtual(`new-${added}`, this.cfg.VAST_NUM_GPUS, this.cfg.VAST_MIN_GPU_MEMORY_GB);
        placement = findPlacement(need, [fresh], usage, rules);
        if (!placement) continue; // no instance we may rent could hold it
        agents.push(fresh);
        added++;
      }
      occupy(usage, placement, need);
    }
    return added;
  }

  private expectedCpuSlots(): number {
    const slots = this.cfg.VAST_AGENT_ENV.find((kv) => kv.startsWith('AGENT_CPU_SLOTS='));
    return slots ? Math.max(1, Number(slots.split('=')[1]) || 1) : 1;
  }

  private requirements(): OfferRequirements {
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

  /** Today's spend so far plus an hour of the new instance (or its whole max runtime, if shorter) must fit the daily budget. */
  private async withinBudget(pricePerHour: number): Promise<boolean> {
    const now = this.clock.now();
    const day = now.toISOString().slice(0, 10);
    const spent = await this.instances.spentSince(new Date(`${day}T00:00:00Z`), now);
    const projected = spent + pricePerHour * Math.min(1, this.cfg.VAST_MAX_RUNTIME_MINUTES / 60);
    if (projected <= this.cfg.VAST_DAILY_BUDGET_USD) return true;
    if (this.budgetAlertDay !== day) {
      this.budgetAlertDay = day;
      const message = `daily Vast.ai budget of $${this.cfg.VAST_DAILY_BUDGET_USD.toFixed(2)} reached ($${spent.toFixed(2)} spent today): renting stops until tomorrow; waiting jobs stay queued for local capacity`;
      this.log.warn(message);
      await this.alert('budget_exhausted', message, null);
    }
    return false;
  }

  /** Tries offers cheapest first until one runs the agent; every instance that does not is destroyed. */
  private async launch(ranked: Array<{ offer: VastOffer; pricePerHour: number }>, leaseRef: string): Promise<void> {
    for (const { offer, pricePerHour } of ranked) {
      if (this.stopping || !this.enabled) return;
      if (this.claimedOffers.has(offer.id)) continue;
      this.claimedOffers.add(offer.id);
      const rowId = `i${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const row: InstanceEntity = Object.assign(new InstanceEntity(), {
        id: rowId,
        label: `${this.labelPrefix}${rowId}.${leaseRef}`.slice(0, 120),
        bootId: this.bootId,
        vastId: null,
        offerId: offer.id,
        status: 'creating' as const,
        gpuName: offer.gpu_name,
        numGpus: offer.num_gpus,
        gpuMemoryGb: offer.gpu_ram / 1000,
        pricePerHour,
        interruptible: this.cfg.VAST_INTERRUPTIBLE,
        agentId: null,
        sshHost: null,
        sshPort: null,
        hostKey: null,
        createdAt: this.clock.now(),
        readyAt: null,
        lastBusyAt: null,
        destroyedAt: null,
        destroyReason: null,
        detail: null,
      });
      await this.instances.insert(row);
      try {
        if (await this.provision(row, offer)) return;
      } catch (err) {
        if (err instanceof VastAuthError) {
          await this.disable(err.message);
          await this.destroy(row, 'failed', err.message);
          return;
        }
        this.log.warn(`offer ${offer.id} (${offer.gpu_name}): ${(err as Error).message}`);
        await this.destroy(row, 'failed', (err as Error).message);
      }
    }
    await this.alert('provision_failed', `no offer could be provisioned for ${leaseRef} (${ranked.length} tried)`, null);
  }

  /** true when the instance runs an agent; false when the offer was gone before anything was created. */
  private async provision(row: InstanceEntity, offer: VastOffer): Promise<boolean> {
    const created = await this.api.createInstance(offer.id, {
      image: this.cfg.VAST_IMAGE,
      disk: this.cfg.VAST_DISK_GB,
      label: row.label,
      env: { TRAINYARD_INSTALLATION: this.installation },
      onstart: 'touch ~/.no_auto_tmux',
      runtype: 'ssh_direct',
      ...(this.cfg.VAST_INTERRUPTIBLE && offer.min_bid != null ? { price: offer.min_bid } : {}),
    });
    if (!created.ok) {
      if (created.instanceId === null) {
        await this.markDestroyed(row, 'failed', `create refused: ${created.error.message}`);
        this.log.warn(`offer ${offer.id} refused: ${created.error.message}; trying the next one`);
        return false;
      }
      row.vastId = created.instanceId;
      await this.instances.update(row.id, { vastId: created.instanceId });
      throw new ProvisionFailure(`create failed but instance ${created.instanceId} exists: ${created.error.message}`);
    }
    row.vastId = created.instanceId;
    row.status = 'provisioning';
    await this.instances.update(row.id, { vastId: created.instanceId, status: 'provisioning' });
    await this.bus.publish('instance.created', { ...this.ref(row), offerId: offer.id }, { id: `${row.id}-created` });
    this.log.log(`rented instance ${row.vastId} (${offer.num_gpus}× ${offer.gpu_name}, $${row.pricePerHour.toFixed(3)}/h) from offer ${offer.id}`);
    await this.api.attachSshKey(row.vastId, this.key!.publicKey);
    const where = await this.waitRunning(row);
    await this.bootstrap(row, where, created.instanceApiKey);
    return true;
  }

  private async waitRunning(row: InstanceEntity): Promise<{ host: string; port: number }> {
    const deadline = this.clock.now().getTime() + this.cfg.VAST_PROVISION_TIMEOUT_SECONDS * 1000;
    for (;;) {
      if (this.stopping) throw new ProvisionFailure('the broker is stopping');
      const state = provisionState(await this.api.showInstance(row.vastId!));
      if (state.kind === 'running') return state;
      if (state.kind === 'failed') throw new ProvisionFailure(state.reason);
      if (this.clock.now().getTime() > deadline) throw new ProvisionFailure(`not running after ${this.cfg.VAST_PROVISION_TIMEOUT_SECONDS} s`);
      await sleep(this.cfg.VAST_POLL_MS);
    }
  }

  private async connect(row: InstanceEntity, where: { host: string; port: number }): Promise<SshSession> {
    const deadline = Date.now() + SSH_CONNECT_WINDOW_MS;
    for (;;) {
      try {
        return await this.ssh.connect({ host: where.host, port: where.port, username: 'root', privateKey: this.key!.privateKey, expectedHostKey: row.hostKey });
      } catch (err) {
        // sshd can come up a little after the API says running; a wrong host key will not fix itself.
        if (/host key|verification/i.test((err as Error).message) || Date.now() > deadline || this.stopping) throw new ProvisionFailure(`ssh to ${where.host}:${where.port}: ${(err as Error).message}`);
        await sleep(Math.min(2000, this.cfg.VAST_POLL_MS));
      }
    }
  }

  /** Copies the agent and a Node binary over SSH, opens the tunnel to NATS, starts the agent and waits for its first heartbeat. */
  private async bootstrap(row: InstanceEntity, where: { host: string; port: number }, instanceApiKey: string | null): Promise<void> {
    const startedAt = this.clock.now();
    const session = await this.connect(row, where);
    this.sessions.set(row.id, session);
    row.hostKey = session.hostKeySha256;
    row.sshHost = where.host;
    row.sshPort = where.port;
    row.agentId = `vast-${row.vastId}`;
    row.status = 'bootstrapping';
    await this.instances.update(row.id, { hostKey: row.hostKey, sshHost: where.host, sshPort: where.port, agentId: row.agentId, status: 'bootstrapping' });
    const bundle = await this.bundler.bundle(join(this.cfg.DATA_DIR, 'agent-bundle'));
    const dir = this.cfg.VAST_AGENT_DIR;
    await this.run(session, `mkdir -p ${dir} && cd ${dir} && rm -rf app && mkdir app && tar -xzf - -C app`, createReadStream(bundle.path), 'unpack the agent');
    await this.run(session, `cd ${dir} && gunzip -c > node.part && chmod +x node.part && mv node.part node && ./node --version`, createReadStream(process.execPath).pipe(createGzip({ level: 1 })), 'install node');
    const nats = new URL(this.cfg.NATS_URL);
    const tunnelPort = await session.tunnelBack({ host: nats.hostname, port: Number(nats.port || 4222) });
    await this.run(session, `cd ${dir} && umask 077 && cat > agent.env`, this.agentEnv(row, tunnelPort, instanceApiKey), 'write the agent environment');
    await this.run(
      session,
      `cd ${dir}/app && set -a && . ../agent.env && set +a && nohup ../node --require ./${bundle.instrumentation} ${bundle.entry} > ../agent.log 2>&1 < /dev/null & echo started`,
      undefined,
      'start the agent',
    );
    session.onClose((why) => void this.sessionLost(row.id, tunnelPort, why));
    const deadline = Date.now() + AGENT_REGISTER_WINDOW_MS;
    for (;;) {
      const agent = (await this.broker.allAgents()).find((a) => a.id === row.agentId && a.status === 'alive' && a.lastSeenAt >= startedAt);
      if (agent) break;
      if (Date.now() > deadline || this.stopping) {
        const tail = await session.exec(`tail -n 40 ${dir}/agent.log`).catch(() => null);
        throw new ProvisionFailure(`the agent did not report within ${AGENT_REGISTER_WINDOW_MS / 1000} s${tail ? `; agent.log: ${tail.stdout.slice(-1500)}` : ''}`);
      }
      await sleep(250);
    }
    const now = this.clock.now();
    row.status = 'ready';
    row.readyAt = now;
    row.lastBusyAt = now;
    await this.instances.update(row.id, { status: 'ready', readyAt: now, lastBusyAt: now });
    await this.bus.publish('instance.ready', { ...this.ref(row), agentId: row.agentId!, provisionSeconds: (now.getTime() - row.createdAt.getTime()) / 1000 }, { id: `${row.id}-ready` });
    this.log.log(`instance ${row.vastId} ready as agent ${row.agentId} after ${Math.round((now.getTime() - row.createdAt.getTime()) / 1000)} s`);
    await this.leases.dispatch();
  }

  private async run(session: SshSession, command: string, stdin: Parameters<SshSession['exec']>[1], what: string): Promise<void> {
    const r = await session.exec(command, stdin);
    if (r.code !== 0) throw new ProvisionFailure(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).slice(-1000)}`);
  }

  /** The agent's whole configuration; secrets travel in this file (mode 600), never on a command line. */
  private agentEnv(row: InstanceEntity, tunnelPort: number, instanceApiKey: string | null): string {
    const nats = new URL(this.cfg.NATS_URL);
    nats.hostname = '127.0.0.1';
    nats.port = String(tunnelPort);
    const env: Record<string, string | undefined> = {
      NATS_URL: nats.toString().replace(/\/$/, ''),
      TRAINYARD_PREFIX: this.cfg.TRAINYARD_PREFIX,
      BUS_MAX_DELIVER: String(this.cfg.BUS_MAX_DELIVER),
      BUS_RETRY_BASE_MS: String(this.cfg.BUS_RETRY_BASE_MS),
      BUS_ACK_WAIT_SECONDS: String(this.cfg.BUS_ACK_WAIT_SECONDS),
      AGENT_ID: row.agentId!,
      AGENT_PROVIDER: 'vast',
      AGENT_WORK_DIR: '../work',
      HOST: '127.0.0.1',
      PORT: '0',
      ARTIFACTS_DIR: isAbsolute(this.cfg.ARTIFACTS_DIR) ? this.cfg.ARTIFACTS_DIR : resolve(this.cfg.ARTIFACTS_DIR),
      S3_BUCKET: this.cfg.S3_BUCKET,
      S3_PREFIX: this.cfg.S3_PREFIX,
      S3_ENDPOINT: this.cfg.S3_ENDPOINT,
      S3_REGION: this.cfg.S3_REGION,
      S3_FORCE_PATH_STYLE: String(this.cfg.S3_FORCE_PATH_STYLE),
      AWS_ACCESS_KEY_ID: this.cfg.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: this.cfg.AWS_SECRET_ACCESS_KEY,
      OTEL_SDK_DISABLED: 'true',
      AGENT_ORPHAN_DESTROY_SECONDS: String(this.cfg.VAST_AGENT_ORPHAN_SECONDS),
      ...(this.cfg.VAST_AGENT_ORPHAN_SECONDS > 0
        ? { AGENT_DEADLINE: new Date(row.createdAt.getTime() + (this.cfg.VAST_MAX_RUNTIME_MINUTES * 60 + this.cfg.VAST_AGENT_ORPHAN_SECONDS) * 1000).toISOString() }
        : {}),
      VAST_API_URL: this.cfg.VAST_API_URL,
      CONTAINER_ID: String(row.vastId),
      CONTAINER_API_KEY: instanceApiKey ?? undefined,
    };
    for (const kv of this.cfg.VAST_AGENT_ENV) {
      const at = kv.indexOf('=');
      env[kv.slice(0, at)] = kv.slice(at + 1);
    }
    return Object.entries(env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}='${v!.replace(/'/g, `'\\''`)}'`)
      .join('\n') + '\n';
  }

  /** The tunnel is the agent's only way to NATS: reconnect and forward the same port, or give the instance up. */
  private async sessionLost(rowId: string, tunnelPort: number, why: string): Promise<void> {
    if (this.stopping || this.destroying.has(rowId) || !this.sessions.has(rowId)) return;
    this.sessions.delete(rowId);
    const row = await this.instances.get(rowId);
    if (!row || row.status !== 'ready' || !row.sshHost || !row.sshPort) return;
    this.log.warn(`ssh to instance ${row.vastId} lost (${why}); reconnecting`);
    try {
      const session = await this.connect(row, { host: row.sshHost, port: row.sshPort });
      const nats = new URL(this.cfg.NATS_URL);
      await session.tunnelBack({ host: nats.hostname, port: Number(nats.port || 4222) }, tunnelPort);
      this.sessions.set(rowId, session);
      session.onClose((again) => void this.sessionLost(rowId, tunnelPort, again));
    } catch (err) {
      await this.destroy(row, 'failed', `ssh tunnel lost and not restored: ${(err as Error).message}`);
    }
  }

  /** Idle and max-runtime limits, and the API's view of each running instance (an outbid one is stopped by the host). */
  private async watchReady(): Promise<void> {
    const now = this.clock.now().getTime();
    for (const row of await this.instances.withStatus(['ready'])) {
      if (row.bootId !== this.bootId || this.destroying.has(row.id)) continue;
      if (now - row.createdAt.getTime() > this.cfg.VAST_MAX_RUNTIME_MINUTES * 60_000) {
        await this.destroy(row, 'max_runtime', `ran past VAST_MAX_RUNTIME_MINUTES=${this.cfg.VAST_MAX_RUNTIME_MINUTES}`);
        continue;
      }
      const busy = (await this.broker.activeLeases(undefined, row.agentId!)).length > 0;
      if (busy) await this.instances.update(row.id, { lastBusyAt: new Date(now) });
      else if (now - (row.lastBusyAt ?? row.readyAt ?? row.createdAt).getTime() > this.cfg.VAST_IDLE_SECONDS * 1000) {
        await this.destroy(row, 'idle', `no job for ${this.cfg.VAST_IDLE_SECONDS} s`);
        continue;
      }
      if (now - (this.lastPolled.get(row.id) ?? 0) < this.cfg.VAST_POLL_MS) continue;
      this.lastPolled.set(row.id, now);
      const state = provisionState(await this.api.showInstance(row.vastId!));
      if (state.kind === 'failed') await this.destroy(row, state.outbid ? 'outbid' : 'failed', state.reason);
    }
  }

  /**
   * Hosts may ask more for a running contract. Within VAST_MAX_PRICE_PER_HOUR the increase is
   * accepted and later leases on the instance are priced by it; above, it is refused, and an instance
   * the host then stops is handled like any that fails.
   */
  private async reviewPriceIncreases(): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - this.lastPriceReview < this.cfg.VAST_POLL_MS) return;
    this.lastPriceReview = now;
    const ours = new Map((await this.instances.live()).filter((r) => r.bootId === this.bootId && r.vastId !== null).map((r) => [r.vastId!, r]));
    if (ours.size === 0) return;
    for (const p of await this.api.pendingPriceIncreases()) {
      const row = ours.get(p.instanceId);
      if (!row) continue;
      // The increase is on compute; the disk's part of our price stays as it was.
      const newPrice = row.pricePerHour + (p.newPerHour - p.oldPerHour);
      const accept = newPrice <= this.cfg.VAST_MAX_PRICE_PER_HOUR;
      await this.api.answerPriceIncrease(p.id, accept);
      this.log.warn({ event: accept ? 'price_increase_accepted' : 'price_increase_refused', instanceId: row.vastId, from: row.pricePerHour, to: newPrice, msg: `instance ${row.vastId}: price increase to $${newPrice.toFixed(3)}/h ${accept ? 'accepted' : `refused (above VAST_MAX_PRICE_PER_HOUR=${this.cfg.VAST_MAX_PRICE_PER_HOUR})`}` });
      if (accept) await this.instances.update(row.id, { pricePerHour: newPrice });
    }
  }

  private async retryDestroys(): Promise<void> {
    for (const row of await this.instances.withStatus(['destroying'])) {
      if (!this.destroying.has(row.id)) await this.destroy(row, (row.destroyReason as DestroyReason | null) ?? 'failed', row.detail ?? '');
    }
  }

  /**
   * Leases on the instance are lost (their jobs go back to the scheduler and resume from their last
   * checkpoint), then the API is asked until it confirms the instance is gone; a failed attempt
   * leaves the row `destroying` for the next tick.
   */
  async destroy(row: InstanceEntity, reason: DestroyReason, detail: string): Promise<void> {
    if (this.destroying.has(row.id)) return;
    this.destroying.add(row.id);
    try {
      if (row.status !== 'destroying') {
        await this.instances.update(row.id, { status: 'destroying', destroyReason: reason, detail: detail.slice(0, 2000) });
        row.status = 'destroying';
        row.destroyReason = reason;
        row.detail = detail.slice(0, 2000);
        this.log.log(`destroying instance ${row.vastId ?? '(not created)'}: ${reason}${detail ? ` (${detail.slice(0, 200)})` : ''}`);
      }
      this.sessions.get(row.id)?.close();
      this.sessions.delete(row.id);
      if (row.agentId) {
        await this.broker.retireAgent(row.agentId);
        for (const lease of await this.broker.activeLeases(undefined, row.agentId)) await this.leases.lose(lease, `instance ${row.vastId} destroyed (${reason})`);
      }
      const outcome = row.vastId === null ? 'never created' : await this.api.destroyInstance(row.vastId);
      await this.markDestroyed(row, reason, `${detail}${detail ? '; ' : ''}${outcome}`);
      if (row.agentId) await this.forgetAgentConsumers(row.agentId);
      this.destroyFailures.delete(row.id);
    } catch (err) {
      const failures = (this.destroyFailures.get(row.id) ?? 0) + 1;
      this.destroyFailures.set(row.id, failures);
      this.log.warn(`destroy of instance ${row.vastId} failed (${failures}): ${(err as Error).message}; retrying`);
      if (failures === DESTROY_ALERT_AFTER) await this.alert('destroy_failing', `instance ${row.vastId} could not be destroyed after ${failures} tries: ${(err as Error).message}`, row.vastId);
    } finally {
      this.destroying.delete(row.id);
    }
  }

  private async markDestroyed(row: InstanceEntity, reason: DestroyReason, detail: string): Promise<void> {
    const now = this.clock.now();
    await this.instances.update(row.id, { status: 'destroyed', destroyedAt: now, destroyReason: reason, detail: detail.slice(0, 2000) });
    row.status = 'destroyed';
    if (row.vastId === null) return;
    const seconds = Math.max(0, (now.getTime() - row.createdAt.getTime()) / 1000);
    await this.bus.publish('instance.destroyed', { ...this.ref(row), reason, detail: detail.slice(0, 2000), seconds, cost: (row.pricePerHour * seconds) / 3600 }, { id: `${row.id}-destroyed` });
  }

  /** Each agent has durable consumers of its own (assignments, cancels); one set per rented machine would pile up day after day. */
  private async forgetAgentConsumers(agentId: string): Promise<void> {
    for (const filter of [`agent.${agentId}.assign`, `job.cancel.${agentId}`]) {
      await this.bus.jsm.consumers.delete(this.bus.streamName, durableName('agent', filter)).catch(() => undefined);
    }
  }

  private ref(row: InstanceEntity) {
    return { instanceId: row.vastId!, label: row.label, gpuName: row.gpuName, numGpus: row.numGpus, pricePerHour: row.pricePerHour, interruptible: row.interruptible };
  }

  private async alert(kind: AlertKind, message: string, instanceId: number | null): Promise<void> {
    await this.bus.publish('instance.alert', { kind, message, instanceId }).catch((err) => this.log.warn(`alert not sent: ${(err as Error).message}`));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
