import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SERVICE_NODE_FLAGS } from '@trainyard/config';
import { NatsBus, natsServers } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import { LeaseService } from '../leases/lease.service';
import { AgentBundler, type AgentBundle } from './agent-bundle';
import { InstanceEntity } from './instance.entity';
import { InstanceStates } from './instance-states.service';
import { InstanceStore } from './instance.store';
import { provisionState, type RankedOffer } from './offer-selection';
import { SshGateway, type ExecOptions, type SshSession, type TunnelTarget } from './ssh-gateway';
import { SshSessions } from './ssh-sessions';
import { instanceRef, InstanceTeardown } from './teardown.service';
import { mayHaveActed, VastApi, VastApiError, VastAuthError } from './vast-api';
import { VastContext } from './vast-context';

/** The instance will not serve: destroy it and try the next offer. */
class ProvisionFailure extends Error {}

const SSH_CONNECT_WINDOW_MS = 90_000;
const AGENT_REGISTER_WINDOW_MS = 120_000;
/** Copying the agent and Node: minutes on a slow link, never forever. */
const UPLOAD_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 30_000;
/** An offer that failed to provision is left alone this long; offers that served are rented again at once. */
const FAILED_OFFER_COOLDOWN_MS = 10 * 60_000;

/** Why an instance is rented: the waiting job that asked for it, and its run (which pays if it never works). */
export interface LaunchTrigger {
  ref: string;
  runId: string;
}

/**
 * Turns an offer into an agent: create (the row written first), poll until running, copy the agent
 * and Node over SSH, open the tunnel to NATS, start the agent and wait for its heartbeat. Anything
 * that fails on the way hands the instance to teardown and moves on to the next offer.
 */
@Injectable()
export class InstanceProvisioner {
  private readonly log = new Logger('Vast');
  private readonly launches = new Set<Promise<void>>();
  /** Tunnels being restored after a drop: shutdown waits for them as for launches. */
  private readonly reconnects = new Set<Promise<void>>();
  /** Offers a launch of ours is trying right now: two launches never race for one. */
  private readonly trying = new Set<number>();
  private readonly failedUntil = new Map<number, number>();

  constructor(
    private readonly api: VastApi,
    private readonly ssh: SshGateway,
    private readonly bundler: AgentBundler,
    private readonly store: InstanceStore,
    private readonly states: InstanceStates,
    private readonly sessions: SshSessions,
    private readonly teardown: InstanceTeardown,
    private readonly broker: BrokerStore,
    private readonly leases: LeaseService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    private readonly ctx: VastContext,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  /** Builds what a bootstrap copies, in the background. */
  prepare(): void {
    const dataDir = join(this.cfg.DATA_DIR, 'agent-bundle');
    void Promise.all([this.bundler.bundle(dataDir), this.bundler.node(dataDir)]).catch((err) => this.log.warn(`agent bundle not prepared yet: ${(err as Error).message}`));
  }

  /** Why no agent can be sent (the workspace not built, or built since its bundle), or null when one can. */
  async unsendable(): Promise<string | null> {
    try {
      await this.bundler.bundle(join(this.cfg.DATA_DIR, 'agent-bundle'));
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** Launches in flight, each of which will hold at most one instance at a time. */
  get inFlight(): number {
    return this.launches.size;
  }

  settled(): Promise<unknown> {
    return Promise.allSettled([...this.launches, ...this.reconnects]);
  }

  /** Whether the offer may be tried now: no launch of ours is on it and it has not just failed. */
  available(offerId: number): boolean {
    return !this.trying.has(offerId) && (this.failedUntil.get(offerId) ?? 0) <= Date.now();
  }

  /** Starts a launch in the background; `stillNeeded` is asked before each create, so no instance is rented for work another one took meanwhile. */
  launch(ranked: RankedOffer[], trigger: LaunchTrigger, stillNeeded: () => Promise<boolean>): void {
    const p: Promise<void> = this.tryOffers(ranked, trigger, stillNeeded)
      .catch((err) => this.log.warn(`launch for ${trigger.ref}: ${(err as Error).message}`))
      .finally(() => this.launches.delete(p));
    this.launches.add(p);
  }

  private async tryOffers(ranked: RankedOffer[], trigger: LaunchTrigger, stillNeeded: () => Promise<boolean>): Promise<void> {
    let tried = 0;
    for (const choice of ranked) {
      if (!this.ctx.enabled) return;
      if (!this.available(choice.offer.id)) continue;
      // Held before asking whether it is still needed: launches decided together would all find it free meanwhile, and create on it.
      this.trying.add(choice.offer.id);
      try {
        if (!(await stillNeeded())) return;
        tried++;
        try {
          if (await this.provision(choice, trigger)) return;
          this.failedUntil.set(choice.offer.id, Date.now() + FAILED_OFFER_COOLDOWN_MS);
        } catch (err) {
          this.failedUntil.set(choice.offer.id, Date.now() + FAILED_OFFER_COOLDOWN_MS);
          if (err instanceof VastAuthError) return void (await this.ctx.disable(err.message));
        }
      } finally {
        this.trying.delete(choice.offer.id);
      }
    }
    if (tried > 0 && !this.ctx.stopping) await this.ctx.alert('provision_failed', `no offer could be provisioned for ${trigger.ref} (${tried} tried)`, null);
  }

  /** true when the instance runs an agent; false when nothing was created; throws (after handing the instance to teardown) when it will not serve. */
  private async provision({ offer, pricePerHour, storagePerHour }: RankedOffer, trigger: LaunchTrigger): Promise<boolean> {
    const rowId = `i${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const row: InstanceEntity = Object.assign(new InstanceEntity(), {
      id: rowId,
      label: `${this.ctx.labelPrefix}${rowId}.${trigger.ref}`.slice(0, 120),
      bootId: this.ctx.bootId,
      vastId: null,
      offerId: offer.id,
      status: 'creating' as const,
      version: 0,
      runId: trigger.runId,
      gpuName: offer.gpu_name,
      numGpus: offer.num_gpus,
      gpuMemoryGb: offer.gpu_ram / 1000,
      pricePerHour,
      storagePerHour,
      computeSpent: 0,
      runningSince: null,
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
    await this.store.insert(row);
    try {
      const created = await this.create(row, offer.id, offer.min_bid ?? null);
      if (!created) return false;
      await this.waitRunning(row);
      await this.bootstrap(row, created.instanceApiKey);
      return true;
    } catch (err) {
      const why = (err as Error).message;
      this.log.warn(`offer ${offer.id} (${offer.gpu_name}): ${why}`);
      await this.teardown.destroy(row, 'failed', why);
      throw err;
    }
  }

  /** null when the offer was refused before anything was created. */
  private async create(row: InstanceEntity, offerId: number, minBid: number | null): Promise<{ instanceApiKey: string | null } | null> {
    const created = await this.api.createInstance(offerId, {
      image: this.cfg.VAST_IMAGE,
      disk: this.cfg.VAST_DISK_GB,
      label: row.label,
      env: { TRAINYARD_INSTALLATION: this.ctx.installation },
      onstart: 'touch ~/.no_auto_tmux',
      runtype: 'ssh_direct',
      ...(this.cfg.VAST_INTERRUPTIBLE && minBid != null ? { price: minBid } : {}),
    });
    if (!created.ok) {
      if (created.error instanceof VastAuthError) throw created.error;
      let id = created.instanceId;
      // A 5xx or a lost answer may come after the instance was made: its label tells, now rather than at the next reap.
      if (id === null && mayHaveActed(created.error)) id = (await this.api.findByLabel(row.label))?.id ?? null;
      if (id === null) {
        this.log.warn(`offer ${offerId} refused: ${created.error.message}; trying the next one`);
        await this.teardown.refused(row, `create refused: ${created.error.message}`);
        return null;
      }
      row.vastId = id;
      await this.store.update(row.id, { vastId: id });
      throw new ProvisionFailure(`create answered "${created.error.message}", yet instance ${id} exists`);
    }
    if (!(await this.states.move(row, 'booting', `created from offer ${offerId}`, { vastId: created.instanceId }))) {
      // Torn down (a shutdown) while the create was in flight: what the API just made goes too.
      await this.api.destroyInstance(created.instanceId);
      throw new ProvisionFailure(`instance ${created.instanceId} was created after its record was torn down, and destroyed`);
    }
    // Told for the record only: a bus blip must not cost an instance already rented and paid for.
    await this.bus.publish('instance.created', { ...instanceRef(row), offerId }, { id: `${row.id}-created` }).catch((err) => this.log.warn(`instance.created not sent: ${(err as Error).message}`));
    this.log.log(`rented instance ${row.vastId} (${row.numGpus}× ${row.gpuName}, $${row.pricePerHour.toFixed(3)}/h) from offer ${offerId}`);
    await this.api.attachSshKey(row.vastId!, this.ctx.key!.publicKey);
    return { instanceApiKey: created.instanceApiKey };
  }

  /**
   * Polls until the API says running. A 429 (show-instance is rate-limited, and Vast sends no
   * Retry-After) or a 5xx says nothing about the instance: it is still pending. Compute bills from
   * the moment it runs, taken as midway between the last poll that saw it loading and the first that saw it running.
   */
  private async waitRunning(row: InstanceEntity): Promise<void> {
    const deadline = this.clock.now().getTime() + this.cfg.VAST_PROVISION_TIMEOUT_SECONDS * 1000;
    let lastPending = row.createdAt.getTime();
    for (;;) {
      if (this.ctx.stopping) throw new ProvisionFailure('the broker is stopping');
      const polledAt = this.clock.now().getTime();
      let state: ReturnType<typeof provisionState> = { kind: 'pending' };
      try {
        state = provisionState(await this.api.showInstance(row.vastId!));
      } catch (err) {
        if (!(err instanceof VastApiError) || err instanceof VastAuthError || !(err.status === 429 || mayHaveActed(err))) throw err;
      }
      if (state.kind === 'running') {
        row.runningSince = new Date((lastPending + polledAt) / 2);
        await this.store.update(row.id, { runningSince: row.runningSince, sshHost: state.host, sshPort: state.port });
        row.sshHost = state.host;
        row.sshPort = state.port;
        return;
      }
      if (state.kind === 'failed') throw new ProvisionFailure(state.reason);
      lastPending = polledAt;
      if (this.clock.now().getTime() > deadline) throw new ProvisionFailure(`not running after ${this.cfg.VAST_PROVISION_TIMEOUT_SECONDS} s`);
      await this.ctx.sleep(this.cfg.VAST_POLL_MS);
    }
  }

  /** sshd can come up a little after the API says running; a wrong host key will not fix itself. */
  async connect(row: InstanceEntity, stillWanted: () => Promise<boolean> = async () => true): Promise<SshSession> {
    const deadline = Date.now() + SSH_CONNECT_WINDOW_MS;
    for (;;) {
      try {
        return await this.ssh.connect({ host: row.sshHost!, port: row.sshPort!, username: 'root', privateKey: this.ctx.key!.privateKey, expectedHostKey: row.hostKey, signal: this.ctx.stopSignal });
      } catch (err) {
        const why = `ssh to ${row.sshHost}:${row.sshPort}: ${(err as Error).message}`;
        if (/host key|verification/i.test((err as Error).message) || Date.now() > deadline || this.ctx.stopping || !(await stillWanted())) throw new ProvisionFailure(why);
        await this.ctx.sleep(Math.min(2000, this.cfg.VAST_POLL_MS));
      }
    }
  }

  /**
   * Copies the agent and a Node binary (side by side; Node not at all when the instance already has
   * this one), opens the tunnel to NATS, writes the agent's environment and start script, starts it
   * detached from the SSH channel and waits for its first heartbeat.
   */
  private async bootstrap(row: InstanceEntity, instanceApiKey: string | null): Promise<void> {
    const startedAt = this.clock.now();
    const session = await this.connect(row);
    const connectedAt = Date.now();
    this.sessions.set(row.id, session);
    const agentId = `vast-${row.vastId}`;
    if (!(await this.states.move(row, 'bootstrapping', `ssh ${row.sshHost}:${row.sshPort}`, { hostKey: session.hostKeySha256, agentId })))
      throw new ProvisionFailure('the instance was taken down while it booted');
    const dataDir = join(this.cfg.DATA_DIR, 'agent-bundle');
    const [bundle, node] = await Promise.all([this.bundler.bundle(dataDir), this.bundler.node(dataDir)]);
    const packedAt = Date.now();
    const dir = this.cfg.VAST_AGENT_DIR;
    const present = await this.run(session, `mkdir -p ${dir} && cat ${dir}/node.sha256 2>/dev/null; true`, 'look at the agent folder');
    await Promise.all([
      this.run(session, `cd ${dir} && rm -rf app.part && mkdir app.part && tar -xzf - -C app.part && rm -rf app && mv app.part app`, 'unpack the agent', {
        stdin: createReadStream(bundle.path),
        timeoutMs: UPLOAD_TIMEOUT_MS,
      }),
      present.trim() === node.sha256
        ? Promise.resolve('')
        : this.run(session, `cd ${dir} && gunzip -c > node.part && chmod +x node.part && ./node.part --version && mv node.part node && echo ${node.sha256} > node.sha256`, 'install node', {
            stdin: createReadStream(node.path),
            timeoutMs: UPLOAD_TIMEOUT_MS,
          }),
    ]);
    const copiedAt = Date.now();
    const tunnelPort = await session.tunnelBack(this.natsTargets());
    await this.run(session, `cd ${dir} && umask 077 && cat > agent.env`, 'write the agent environment', { stdin: this.agentEnv(row, tunnelPort, instanceApiKey) });
    await this.run(session, `cd ${dir} && umask 077 && cat > start-agent && chmod 700 start-agent`, 'write the start script', { stdin: startScript(bundle) });
    // One simple command in the background with every descriptor redirected: no shell (bash keeps a
    // backgrounded `a && b &` list's stdout open) holds the channel, so this returns at once.
    await this.run(session, `cd ${dir} || exit 1; nohup ./start-agent > agent.log 2>&1 < /dev/null & echo started`, 'start the agent');
    const launchedAt = Date.now();
    session.onClose((why) => this.tunnelDropped(row.id, tunnelPort, why));
    const deadline = Date.now() + AGENT_REGISTER_WINDOW_MS;
    for (;;) {
      const agent = (await this.broker.allAgents()).find((a) => a.id === agentId && a.status === 'alive' && a.lastSeenAt >= startedAt);
      if (agent) break;
      if (Date.now() > deadline || this.ctx.stopping) {
        const tail = await session.exec(`tail -n 40 ${dir}/agent.log`, { timeoutMs: 5000 }).catch(() => null);
        throw new ProvisionFailure(`the agent did not report within ${AGENT_REGISTER_WINDOW_MS / 1000} s${tail ? `; agent.log: ${tail.stdout.slice(-1500)}` : ''}`);
      }
      await this.ctx.sleep(250);
    }
    const now = this.clock.now();
    if (!(await this.states.move(row, 'ready', `agent ${agentId} reported`, { readyAt: now, lastBusyAt: now }))) throw new ProvisionFailure('the instance was taken down while it bootstrapped');
    const provisionSeconds = (now.getTime() - row.createdAt.getTime()) / 1000;
    await this.bus
      .publish('instance.ready', { ...instanceRef(row), agentId, provisionSeconds }, { id: `${row.id}-ready` })
      .catch((err) => this.log.warn(`instance.ready not sent: ${(err as Error).message}`));
    const stages = {
      connectSeconds: (connectedAt - startedAt.getTime()) / 1000,
      // Waiting for the archive and Node's gzip, made once per data folder: seconds of CPU on a broker's first rental.
      packSeconds: (packedAt - connectedAt) / 1000,
      copySeconds: (copiedAt - packedAt) / 1000,
      startSeconds: (launchedAt - copiedAt) / 1000,
      firstHeartbeatSeconds: (Date.now() - launchedAt) / 1000,
    };
    this.log.log({
      event: 'instance_ready',
      instanceId: row.vastId,
      agentId,
      provisionSeconds,
      bootstrapSeconds: (now.getTime() - startedAt.getTime()) / 1000,
      ...stages,
      msg: `instance ${row.vastId} ready as agent ${agentId} after ${Math.round(provisionSeconds)} s`,
    });
    await this.leases.dispatch();
  }

  /** Every server of the broker's NATS, so the tunnel outlives the loss of one cluster node. */
  private natsTargets(): TunnelTarget[] {
    return natsServers(this.cfg.NATS_URL).map((url) => {
      const u = new URL(url);
      return { host: u.hostname, port: Number(u.port || 4222) };
    });
  }

  private async run(session: SshSession, command: string, what: string, opts: ExecOptions = {}): Promise<string> {
    const r = await session.exec(command, { timeoutMs: COMMAND_TIMEOUT_MS, ...opts }).catch((err: Error) => {
      throw new ProvisionFailure(`${what}: ${err.message}`);
    });
    if (r.code !== 0) throw new ProvisionFailure(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).slice(-1000)}`);
    return r.stdout;
  }

  /** The agent's whole configuration; secrets travel in this file (mode 600), never on a command line. */
  private agentEnv(row: InstanceEntity, tunnelPort: number, instanceApiKey: string | null): string {
    const [server] = natsServers(this.cfg.NATS_URL);
    if (!server) throw new Error(`NATS_URL '${this.cfg.NATS_URL}' names no server for the agent to reach`);
    const nats = new URL(server);
    nats.hostname = '127.0.0.1';
    nats.port = String(tunnelPort);
    const env: Record<string, string | undefined> = {
      NATS_URL: nats.toString().replace(/\/$/, ''),
      // The servers a cluster announces are this side's addresses, not the instance's.
      NATS_DISCOVER_SERVERS: 'false',
      NATS_NKEY_SEED: this.cfg.VAST_AGENT_NATS_NKEY_SEED,
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
      AGENT_TRAINERS: this.cfg.VAST_AGENT_TRAINERS,
      VAST_API_URL: this.cfg.VAST_API_URL,
      CONTAINER_ID: String(row.vastId),
      CONTAINER_API_KEY: instanceApiKey ?? undefined,
    };
    for (const kv of this.cfg.VAST_AGENT_ENV) {
      const at = kv.indexOf('=');
      env[kv.slice(0, at)] = kv.slice(at + 1);
    }
    return (
      Object.entries(env)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}='${v!.replace(/'/g, `'\\''`)}'`)
        .join('\n') + '\n'
    );
  }

  /** A reconnect runs in the background of an SSH close event: tracked, and its failures logged, never thrown. */
  private tunnelDropped(rowId: string, tunnelPort: number, why: string): void {
    const restoring: Promise<void> = this.sessionLost(rowId, tunnelPort, why)
      .catch((err) => this.log.warn(`ssh tunnel of instance row ${rowId} not restored: ${(err as Error).message}`))
      .finally(() => this.reconnects.delete(restoring));
    this.reconnects.add(restoring);
  }

  /** The tunnel is the agent's only way to NATS: reconnect and forward the same port, or give the instance up. */
  private async sessionLost(rowId: string, tunnelPort: number, why: string): Promise<void> {
    if (this.ctx.stopping || this.teardown.isDestroying(rowId) || !this.sessions.has(rowId)) return;
    this.sessions.dropped(rowId);
    const serving = async () => {
      const now = await this.store.get(rowId);
      return now !== null && ['ready', 'busy', 'draining'].includes(now.status) && !this.teardown.isDestroying(rowId);
    };
    const row = await this.store.get(rowId);
    if (!row || !(await serving())) return;
    this.log.warn(`ssh to instance ${row.vastId} lost (${why}); reconnecting`);
    try {
      const session = await this.connect(row, serving);
      // A connection nobody will hold (shutdown or teardown came meanwhile) is closed here, not leaked.
      let kept = false;
      try {
        await session.tunnelBack(this.natsTargets(), tunnelPort);
        kept = !this.ctx.stopping && (await serving());
      } finally {
        if (!kept) session.close();
      }
      if (!kept) return;
      this.sessions.set(rowId, session);
      session.onClose((again) => this.tunnelDropped(rowId, tunnelPort, again));
    } catch (err) {
      // A stopping broker destroys every instance of its own, for that reason.
      if (this.ctx.stopping) return;
      // Something else (an outbid, an idle timeout) may have taken it down meanwhile: its reason stands.
      const now = await this.store.get(rowId);
      if (now && (await serving())) await this.teardown.destroy(now, 'failed', `ssh tunnel lost and not restored: ${(err as Error).message}`);
    }
  }
}

/** Reads the environment file and becomes the agent (with the V8 flags of every service); run detached, so nothing of the SSH channel stays open. */
function startScript(bundle: AgentBundle): string {
  return ['#!/bin/bash', 'set -a', '. ./agent.env', 'set +a', 'cd app || exit 1', `exec ../node ${SERVICE_NODE_FLAGS.join(' ')} ${bundle.entry}`, ''].join('\n');
}
