import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { CAPACITY_KEY, capacityBucket, CapacitySummary, toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import {
  bootTestApp,
  type BootOptions,
  createTestDatabase,
  deleteTestStream,
  readStored,
  startVastTestServer,
  testJobDefinition,
  testNatsUrl,
  testPrefix,
  waitFor,
  type TestDatabase,
  type VastTestServer,
} from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from '../leases/broker.store';
import { AgentBundler, repoRoot } from './agent-bundle';
import { InstanceStore } from './instance.store';
import { VastProvider } from './vast-provider.service';

// Deadlines, not waits: generous, so a loaded machine (the suite beside a chaos run) passes too.
jest.setTimeout(600_000);

/**
 * The broker with renting on, against the Vast API test server whose instances are real SSH
 * endpoints: the agent is copied over SSH, reaches NATS through the broker's tunnel and trains.
 */
describe('gpu-broker on Vast.ai', () => {
  let vast: VastTestServer;
  let dir: string;

  beforeAll(async () => {
    vast = await startVastTestServer({ loadingMs: 100 });
    dir = mkdtempSync(join(tmpdir(), 'vast-broker-'));
  });

  afterAll(async () => {
    expect(vast.alive()).toEqual([]);
    // No agent outlives its instance.
    expect(vast.instances().flatMap((i) => vast.processes(i.id))).toEqual([]);
    await vast.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The creates (PUT /asks/<offer>/) the test server answered since `before` of its requests. */
  const createsSince = (before: number) =>
    vast
      .requests()
      .slice(before)
      .filter((r) => r.method === 'PUT' && r.path.startsWith('/api/v0/asks/'));

  const offers = {
    cheap: { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.3, dph_total: 0.32, storage_cost: 0.1, reliability: 0.99 },
    dear: { gpu_name: 'H100 SXM', gpu_ram: 81559, dph_base: 1.9, dph_total: 1.95, storage_cost: 0.1, reliability: 0.99 },
  };

  const brokerTestEnv = (prefix: string, db: TestDatabase, env: Record<string, string> = {}): Record<string, string> => ({
    NATS_URL: testNatsUrl(),
    TRAINYARD_PREFIX: prefix,
    DATABASE_URL: db.url,
    // Shared, so the agent bundle and the gzipped Node are made once for the whole file.
    DATA_DIR: join(dir, 'data'),
    ARTIFACTS_DIR: join(dir, prefix, 'artifacts'),
    BROKER_TICK_MS: '200',
    BROKER_AGENT_SILENCE_SECONDS: '5',
    VAST_API_KEY: vast.apiKey,
    VAST_API_URL: vast.url,
    VAST_POLL_MS: '100',
    VAST_API_RETRY_BASE_MS: '10',
    VAST_IDLE_SECONDS: '2',
    VAST_MAX_INSTANCES: '2',
    VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=2,AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=500',
    VAST_AGENT_TRAINERS: 'sleep=sleep',
    ...env,
  });

  const bootApp = (prefix: string, db: TestDatabase, env: Record<string, string> = {}, overrides: BootOptions['overrides'] = []): Promise<INestApplication> =>
    bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(brokerTestEnv(prefix, db, env)))] }, { overrides });

  const cpuJob = (symbol: string, runId: string) => toJobSpec(testJobDefinition({ symbol, runId, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);

  it('rents the cheapest offer, bootstraps the agent over SSH, trains the queued jobs there and destroys the idle instance', async () => {
    const prefix = testPrefix('vast');
    const db = await createTestDatabase();
    vast.setOffers([offers.dear, offers.cheap]);
    const app = await bootApp(prefix, db);
    try {
      const bus = app.get(NatsBus);
      for (const s of ['AAAUSDT', 'BBBUSDT', 'CCCUSDT']) await bus.publish('job.requested', { spec: cpuJob(s, 'r-vast') });
      await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 3, 'three jobs trained on rented instances', 240_000);
      const created = (await readStored(prefix, 'instance.created')).map((e) => e.data);
      expect(created.length).toBeGreaterThanOrEqual(1);
      // Launches run side by side, so the order of their events is not the order of the offers: the cheap one is always among them.
      const cheapId = vast.instances().find((i) => i.dphTotal === offers.cheap.dph_total)?.offerId;
      expect(created.map((c) => c.offerId)).toContain(cheapId);
      for (const c of created) expect(c.label).toMatch(new RegExp(`^trainyard\\.${prefix}\\.`));
      const leased = (await readStored(prefix, 'job.leased')).map((e) => e.data.lease);
      expect(leased.every((l: { provider: string; agentId: string }) => l.provider === 'vast' && l.agentId.startsWith('vast-'))).toBe(true);
      // With no local agent, work goes to rented instances: the capacity summary says what each bills before it works.
      const kv = await bus.keyValue(capacityBucket(prefix));
      const rental = await waitFor(async () => {
        const r = CapacitySummary.parse((await kv.get(CAPACITY_KEY))?.json()).rental;
        // Learned from the instances that got ready (300 s is the guess before any did).
        return r && r.provisionSeconds < 300 ? r : null;
      }, 'the rental in the capacity summary');
      expect(rental.maxInstances).toBe(2);
      expect(rental.provisionSeconds).toBeGreaterThan(0);
      // The host key was pinned on first contact.
      const rows = await app.get(InstanceStore).withStatus(['ready', 'destroying', 'destroyed']);
      for (const row of rows.filter((r) => r.hostKey)) expect(vast.instances().find((i) => i.id === row.vastId)?.hostKeySha256).toBe(row.hostKey);
      // Each lease is charged the instance's price for the attempt's seconds.
      const released = await waitFor(async () => {
        const all = (await readStored(prefix, 'lease.released')).map((e) => e.data);
        return all.length === 3 ? all : null;
      }, 'three leases released');
      const priceOf = new Map(created.map((c) => [`vast-${c.instanceId}`, c.pricePerHour / c.numGpus]));
      for (const r of released) expect(r.cost).toBeCloseTo((r.seconds * priceOf.get(r.agentId)!) / 3600, 9);
      await waitFor(async () => vast.alive().length === 0, 'idle instances destroyed', 90_000);
      const destroyed = await waitFor(async () => {
        const all = (await readStored(prefix, 'instance.destroyed')).map((e) => e.data);
        return all.length === created.length ? all : null;
      }, 'an instance.destroyed for each instance');
      expect(destroyed.map((d) => d.reason)).toContain('idle');
      // The destroyed agents' assign consumers are gone with them.
      await waitFor(async () => {
        const names: string[] = [];
        for await (const c of bus.jsm.consumers.list(bus.streamName)) names.push(c.name);
        return !names.some((n) => n.includes('vast-'));
      }, 'no consumer left for destroyed agents');
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('gives each launch decided together its own offer: none asks for an offer another launch is renting', async () => {
    const prefix = testPrefix('vastp');
    const db = await createTestDatabase();
    vast.setOffers([offers.dear, offers.cheap]);
    // Requests stored while nothing may be rented, so that the next broker's first decision wants two instances at once.
    const before = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '0' });
    for (const s of ['PPPUSDT', 'QQQUSDT', 'RRRUSDT']) await before.get(NatsBus).publish('job.requested', { spec: cpuJob(s, 'r-pair') });
    await waitFor(async () => (await before.get(BrokerStore).dispatchState()).pending.length === 3, 'three requests waiting');
    await before.close();
    const requestsBefore = vast.requests().length;
    const app = await bootApp(prefix, db);
    try {
      await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 3, 'three jobs trained on rented instances', 240_000);
      const creates = createsSince(requestsBefore);
      // Vast answers an ask another launch took with 404 no_such_ask; each launch must have asked for its own.
      expect(creates.map((r) => [r.path, r.status]).sort()).toEqual(
        vast
          .instances()
          .slice(-2)
          .map((i) => [`/api/v0/asks/${i.offerId}/`, 200])
          .sort(),
      );
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('rents nothing while the agent cannot be sent (a workspace built since its bundle), and says why', async () => {
    const prefix = testPrefix('vasts');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    const stale = new Error('the agent bundle is older than libs/contracts/dist/index.js: run npm run build');
    const bundler = { bundle: () => Promise.reject(stale), node: () => new AgentBundler().node(join(dir, 'data', 'agent-bundle')) };
    const requestsBefore = vast.requests().length;
    const app = await bootApp(prefix, db, {}, [{ provide: AgentBundler, useValue: bundler }]);
    try {
      await app.get(NatsBus).publish('job.requested', { spec: cpuJob('SSSUSDT', 'r-stale') });
      const [alert] = await waitFor(async () => {
        const all = await readStored(prefix, 'instance.alert');
        return all.length ? all : null;
      }, 'an alert');
      expect(alert!.data).toMatchObject({ kind: 'provision_failed', message: `nothing rented for 1 waiting jobs: ${stale.message}` });
      expect(createsSince(requestsBefore)).toEqual([]);
      expect(vast.alive()).toEqual([]);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('rents for a job as soon as a placement pass finds no room for it, not a tick later, and never for jobs a local agent has room for', async () => {
    const prefix = testPrefix('vastl');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    // A tick far longer than the test: only a finished placement pass can tell renting that a job waits.
    const app = await bootApp(prefix, db, { BROKER_TICK_MS: '600000', BROKER_AGENT_SILENCE_SECONDS: '30' });
    const bus = app.get(NatsBus);
    const startedAt = new Date().toISOString();
    let beating = true;
    // The test plays a local agent with two CPU slots that holds what it was assigned.
    const local = (async () => {
      while (beating) {
        const running = (await readStored(prefix, 'agent.local-box.assign')).map((e) => ({ jobId: e.data.spec.jobId, attempt: 1, leaseId: e.data.lease.leaseId }));
        await bus.publish('agent.heartbeat', { agentId: 'local-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 2, running, startedAt });
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    try {
      await waitFor(async () => (await app.get(BrokerStore).allAgents()).some((a) => a.id === 'local-box' && a.status === 'alive'), 'the local agent registered');
      for (const s of ['MMMUSDT', 'NNNUSDT', 'OOOUSDT']) await bus.publish('job.requested', { spec: cpuJob(s, 'r-local') });
      await waitFor(async () => (await readStored(prefix, 'instance.created')).length > 0, 'an instance rented for the job left waiting', 120_000);
      const succeeded = await waitFor(
        async () => {
          const all = (await readStored(prefix, 'job.succeeded')).map((e) => e.data);
          return all.length === 1 ? all : null;
        },
        'the third job trained on the rented instance',
        240_000,
      );
      const leased = (await readStored(prefix, 'job.leased')).map((e) => e.data);
      expect(leased.filter((l) => l.lease.provider === 'local')).toHaveLength(2);
      expect(leased.find((l) => l.jobId === succeeded[0].jobId)?.lease.provider).toBe('vast');
      expect(await readStored(prefix, 'instance.created')).toHaveLength(1);
    } finally {
      beating = false;
      await local;
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('rents an offer again once the instance it gave was destroyed (a long-lived broker does not run out of machines)', async () => {
    const prefix = testPrefix('vastc');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    const app = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '1', VAST_IDLE_SECONDS: '1' });
    try {
      const bus = app.get(NatsBus);
      for (const [i, symbol] of ['KKKUSDT', 'LLLUSDT'].entries()) {
        await bus.publish('job.requested', { spec: cpuJob(symbol, 'r-again') });
        await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === i + 1, `job ${i + 1} trained`, 240_000);
        await waitFor(async () => vast.alive().length === 0, `instance ${i + 1} destroyed when idle`, 90_000);
      }
      const created = (await readStored(prefix, 'instance.created')).map((e) => e.data);
      expect(created).toHaveLength(2);
      expect(new Set(created.map((c) => c.offerId)).size).toBe(1);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('keeps an instance whose instance.created could not be published, and announces its destruction again when that publish failed', async () => {
    const prefix = testPrefix('vastp');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    const rentedBefore = vast.instances().length;
    const app = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '1', VAST_IDLE_SECONDS: '1' });
    const bus = app.get(NatsBus);
    const publish = bus.publish.bind(bus);
    const refused = new Set<string>();
    // JetStream unavailable for one publish of each: the create's record, then the destroy's bill.
    const spy = jest.spyOn(bus, 'publish').mockImplementation(((name: string, input: unknown, opts?: { id?: string }) => {
      if ((name === 'instance.created' || name === 'instance.destroyed') && !refused.has(name)) {
        refused.add(name);
        return Promise.reject(new Error('503 no responders: JetStream not available'));
      }
      return publish(name as never, input as never, opts);
    }) as typeof bus.publish);
    try {
      await bus.publish('job.requested', { spec: cpuJob('PPPUSDT', 'r-blip') });
      await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 1, 'the job trained', 240_000);
      await waitFor(async () => vast.alive().length === 0, 'the idle instance destroyed', 90_000);
      const destroyed = await waitFor(
        async () => {
          const d = (await readStored(prefix, 'instance.destroyed')).map((e) => e.data);
          return d.length ? d : null;
        },
        'instance.destroyed announced again',
        60_000,
      );
      expect(refused).toEqual(new Set(['instance.created', 'instance.destroyed']));
      expect(destroyed).toEqual([expect.objectContaining({ reason: 'idle', runs: [expect.objectContaining({ runId: 'r-blip' })] })]);
      expect(vast.instances()).toHaveLength(rentedBefore + 1);
    } finally {
      spy.mockRestore();
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('moves on to the next offer when one vanished, failed its container or exited, destroying what was created', async () => {
    const prefix = testPrefix('vastf');
    const db = await createTestDatabase();
    vast.setOffers([
      { ...offers.cheap, dph_base: 0.1, scenario: 'vanished' },
      { ...offers.cheap, dph_base: 0.11, scenario: 'oci_failure' },
      { ...offers.cheap, dph_base: 0.12, scenario: 'exited' },
      { ...offers.cheap, dph_base: 0.13, scenario: 'create_error_with_contract' },
      { ...offers.cheap, dph_base: 0.2 },
    ]);
    const app = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '1' });
    try {
      await app.get(NatsBus).publish('job.requested', { spec: cpuJob('DDDUSDT', 'r-fail') });
      await waitFor(async () => (await readStored(prefix, 'instance.ready')).length === 1, 'an instance ready on the fifth offer', 240_000);
      const ready = (await readStored(prefix, 'instance.ready'))[0]?.data;
      expect(ready.pricePerHour).toBeCloseTo(0.2 + (20 * 0.1) / 720, 9);
      // Everything created on the way was destroyed; only the working one is alive.
      expect(vast.alive().map((i) => i.id)).toEqual([ready.instanceId]);
      const failed = (await readStored(prefix, 'instance.destroyed')).map((e) => e.data);
      expect(failed.every((d) => d.reason === 'failed')).toBe(true);
      expect(failed.map((d) => d.detail).join('\n')).toMatch(/OCI runtime/);
      await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 1, 'the job trained', 240_000);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
    expect(vast.alive()).toEqual([]);
  });

  it('destroys, on restart, the instance a killed broker had just created, and leaves other installations alone', async () => {
    const prefix = testPrefix('vastr');
    const db = await createTestDatabase();
    vast.setOffers([
      { ...offers.cheap, scenario: 'stuck_loading' },
      { ...offers.dear, id: 990_001 },
    ]);
    const foreign = await fetch(`${vast.url}/api/v0/asks/990001/`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${vast.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: 'me', image: 'x', disk: 10, label: 'someone-else.job-1', runtype: 'ssh_direct' }),
    }).then((r) => r.json() as Promise<{ new_contract: number }>);
    // The broker as its own process, so it can die by SIGKILL with no shutdown path at all.
    await (await bootApp(prefix, db, { VAST_MAX_INSTANCES: '0' })).close(); // the schema exists before the child starts
    const env = { ...process.env, ...brokerTestEnv(prefix, db), PORT: '0', OTEL_SDK_DISABLED: 'true' };
    const child = spawn(process.execPath, ['--require', './apps/gpu-broker/dist/instrumentation.js', './apps/gpu-broker/dist/main.js'], { cwd: repoRoot(), env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const bus = await NatsBus.connect({ serviceName: 'vast-spec', natsUrl: testNatsUrl(), prefix });
    try {
      await bus.publish('job.requested', { spec: cpuJob('EEEUSDT', 'r-crash') });
      await waitFor(
        async () => vast.alive().some((i) => i.label?.startsWith(`trainyard.${prefix}.`)) || (child.exitCode !== null && Promise.reject(new Error(stderr))),
        'the child broker created an instance',
        240_000,
      );
    } finally {
      child.kill('SIGKILL');
      await bus.onApplicationShutdown();
    }
    const orphan = vast.alive().find((i) => i.label?.startsWith(`trainyard.${prefix}.`))!;
    const app = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '0', VAST_REAP_SECONDS: '1' });
    try {
      await waitFor(async () => !vast.alive().some((i) => i.id === orphan.id), 'the orphan destroyed once its broker stopped beating', 90_000);
      expect(await app.get(VastProvider).reap()).toBe(0);
      expect(vast.alive().map((i) => i.id)).toEqual([foreign.new_contract]);
    } finally {
      await app.close();
      await fetch(`${vast.url}/api/v0/instances/${foreign.new_contract}/`, { method: 'DELETE', headers: { Authorization: `Bearer ${vast.apiKey}` } });
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('leaves no instance billing when its broker dies for good: the agent, cut off, destroys its own', async () => {
    const prefix = testPrefix('vastg');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    await (await bootApp(prefix, db, { VAST_MAX_INSTANCES: '0' })).close();
    const env = { ...process.env, ...brokerTestEnv(prefix, db, { VAST_AGENT_ORPHAN_SECONDS: '3' }), PORT: '0', OTEL_SDK_DISABLED: 'true' };
    const child = spawn(process.execPath, ['--require', './apps/gpu-broker/dist/instrumentation.js', './apps/gpu-broker/dist/main.js'], { cwd: repoRoot(), env, stdio: 'ignore' });
    const bus = await NatsBus.connect({ serviceName: 'vast-spec', natsUrl: testNatsUrl(), prefix });
    try {
      await bus.publish('job.requested', { spec: cpuJob('HHHUSDT', 'r-gone') });
      await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 1, 'the job trained on the rented instance', 240_000);
    } finally {
      child.kill('SIGKILL');
      await bus.onApplicationShutdown();
    }
    const ours = () => vast.alive().filter((i) => i.label?.startsWith(`trainyard.${prefix}.`));
    expect(ours()).toHaveLength(1);
    try {
      // No broker at all from here on: only the agent on the instance can stop the bill.
      await waitFor(async () => ours().length === 0, 'the agent destroyed its own instance', 90_000);
      const self = vast.requests().filter((r) => r.method === 'DELETE' && r.authorized);
      expect(self.length).toBeGreaterThan(0);
    } finally {
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('destroys an outbid interruptible instance and gives its running job back as a lost lease', async () => {
    const prefix = testPrefix('vasto');
    const db = await createTestDatabase();
    vast.setOffers([{ ...offers.cheap, min_bid: 0.12 }]);
    const app = await bootApp(prefix, db, { VAST_INTERRUPTIBLE: 'true', VAST_MAX_INSTANCES: '1' });
    try {
      const spec = toJobSpec(testJobDefinition({ symbol: 'GGGUSDT', runId: 'r-bid', driver: { kind: 'command', trainer: 'sleep', args: ['20'] }, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
      await app.get(NatsBus).publish('job.requested', { spec });
      await waitFor(async () => (await readStored(prefix, 'job.started')).length === 1, 'the job running on the bid instance', 240_000);
      const [ready] = (await readStored(prefix, 'instance.ready')).map((e) => e.data);
      expect(ready).toMatchObject({ interruptible: true });
      expect(vast.instances().find((i) => i.id === ready.instanceId)?.price).toBe(0.12);
      vast.outbid(ready.instanceId);
      const lost = await waitFor(async () => (await readStored(prefix, 'lease.lost')).map((e) => e.data)[0], 'lease.lost', 60_000);
      expect(lost).toMatchObject({ jobId: spec.jobId, agentId: `vast-${ready.instanceId}` });
      expect(lost.reason).toMatch(/outbid/);
      await waitFor(async () => vast.alive().length === 0, 'the outbid instance destroyed', 60_000);
      const destroyed = await waitFor(async () => {
        const all = (await readStored(prefix, 'instance.destroyed')).map((e) => e.data.reason);
        return all.length ? all : null;
      }, 'instance.destroyed');
      expect(destroyed).toEqual(['outbid']);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it("accepts a host's price increase within the price limit, prices later leases by it, and refuses one above", async () => {
    const prefix = testPrefix('vastp');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    const app = await bootApp(prefix, db, { VAST_MAX_INSTANCES: '1', VAST_IDLE_SECONDS: '120', VAST_MAX_PRICE_PER_HOUR: '1' });
    try {
      const bus = app.get(NatsBus);
      await bus.publish('job.requested', { spec: cpuJob('IIIUSDT', 'r-price') });
      const [ready] = await waitFor(
        async () => {
          const r = (await readStored(prefix, 'instance.ready')).map((e) => e.data);
          return r.length ? r : null;
        },
        'an instance ready',
        240_000,
      );
      const within = vast.proposePriceIncrease(ready.instanceId, 0.5);
      await waitFor(async () => vast.priceIncrease(within) !== 'pending', 'the increase answered');
      expect(vast.priceIncrease(within)).toBe('accepted');
      const raised = ready.pricePerHour + (0.5 - offers.cheap.dph_total);
      await waitFor(async () => Math.abs(((await app.get(InstanceStore).withStatus(['ready']))[0]?.pricePerHour ?? 0) - raised) < 1e-9, 'the new price recorded');
      await bus.publish('job.requested', { spec: cpuJob('JJJUSDT', 'r-price') });
      const lease = await waitFor(async () => (await readStored(prefix, 'job.leased')).map((e) => e.data).find((d) => d.jobId === 'r-price-JJJUSDT'), 'the next job leased');
      expect(lease.lease.pricePerHour).toBeCloseTo(raised, 9);
      const above = vast.proposePriceIncrease(ready.instanceId, 3);
      await waitFor(async () => vast.priceIncrease(above) !== 'pending', 'the second increase answered');
      expect(vast.priceIncrease(above)).toBe('rejected');
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('stops renting when the daily budget would be exceeded, and says so', async () => {
    const prefix = testPrefix('vastb');
    const db = await createTestDatabase();
    vast.setOffers([offers.cheap]);
    const app = await bootApp(prefix, db, { VAST_DAILY_BUDGET_USD: '0.1' });
    try {
      await app.get(NatsBus).publish('job.requested', { spec: cpuJob('FFFUSDT', 'r-budget') });
      await waitFor(async () => (await readStored(prefix, 'instance.alert')).length > 0, 'a budget alert', 60_000);
      expect((await readStored(prefix, 'instance.alert'))[0]?.data).toMatchObject({ kind: 'budget_exhausted' });
      expect(vast.alive()).toEqual([]);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });
});
