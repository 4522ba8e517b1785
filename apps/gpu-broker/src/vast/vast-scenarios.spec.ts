import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { SERVICE_NODE_FLAGS } from '@trainyard/config';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import {
  bootTestApp,
  createTestDatabase,
  deleteTestStream,
  peakAlive,
  readStored,
  startVastTestServer,
  testJobDefinition,
  testNatsUrl,
  testPrefix,
  waitFor,
  type TestDatabase,
  type VastTestOfferInput,
  type VastTestServer,
} from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { repoRoot } from './agent-bundle';
import { InstanceStore } from './instance.store';
import { SshSessions } from './ssh-sessions';
import { InstanceTeardown } from './teardown.service';

// Deadlines, not waits: generous, so a loaded machine (the suite beside a chaos run) passes too.
jest.setTimeout(420_000);

/**
 * VAST.md's checklist against the Vast API test server, whose instances are OpenSSH servers with
 * bash login shells: whatever goes wrong, every instance ends destroyed and what Trainyard books as
 * spent is what the test server billed (within 2%). The table it prints is the one in docs/vast.md.
 */
describe('gpu-broker against every Vast.ai failure scenario', () => {
  let vast: VastTestServer;
  let dir: string;
  const table: string[] = [];

  beforeAll(async () => {
    vast = await startVastTestServer({ loadingMs: 150 });
    dir = mkdtempSync(join(tmpdir(), 'vast-scn-'));
  });

  afterAll(async () => {
    // Printed for docs/vast.md: scenario, outcome, instances, spend vs bill, time to destroy.
    if (table.length) process.stdout.write(`\n| scenario | outcome | instances | Trainyard spend / bill | longest life (s) |\n|---|---|---|---|---|\n${table.join('\n')}\n`);
    expect(vast.alive()).toEqual([]);
    // No agent outlives its instance.
    expect(vast.instances().flatMap((i) => vast.processes(i.id))).toEqual([]);
    await vast.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const good: VastTestOfferInput = { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.3, storage_cost: 0.2, reliability: 0.99, min_bid: 0.15 };

  const env = (prefix: string, db: TestDatabase, extra: Record<string, string> = {}): Record<string, string> => ({
    NATS_URL: testNatsUrl(),
    TRAINYARD_PREFIX: prefix,
    DATABASE_URL: db.url,
    DATA_DIR: join(dir, 'data'),
    ARTIFACTS_DIR: join(dir, prefix, 'artifacts'),
    BROKER_TICK_MS: '200',
    BROKER_AGENT_SILENCE_SECONDS: '5',
    VAST_API_KEY: vast.apiKey,
    VAST_API_URL: vast.url,
    VAST_POLL_MS: '60',
    VAST_API_RETRY_BASE_MS: '10',
    VAST_IDLE_SECONDS: '1',
    VAST_MAX_INSTANCES: '1',
    VAST_PROVISION_TIMEOUT_SECONDS: '3',
    VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=2,AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=500',
    VAST_AGENT_TRAINERS: 'sleep=sleep',
    ...extra,
  });

  const job = (symbol: string, runId: string) => toJobSpec(testJobDefinition({ symbol, runId, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
  const ours = (prefix: string) => vast.instances().filter((i) => i.label?.startsWith(`trainyard.${prefix}.`));

  /** Runs one scenario; `expectJob` false when the job cannot succeed (the instance is taken from under it). */
  async function scenario(
    name: string,
    offers: VastTestOfferInput[],
    opts: { arrange?: () => void; during?: (prefix: string) => Promise<void>; expectJob?: boolean; env?: Record<string, string> } = {},
  ) {
    const prefix = testPrefix('vscn');
    const db = await createTestDatabase();
    vast.setOffers(offers);
    opts.arrange?.();
    const app: INestApplication = await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(env(prefix, db, opts.env)))] });
    let outcome = '';
    try {
      await app.get(NatsBus).publish('job.requested', { spec: job('SCNUSDT', `r-${prefix}`) });
      if (opts.expectJob !== false) {
        await waitFor(async () => (await readStored(prefix, 'job.succeeded')).length === 1, `${name}: the job trained`, 240_000);
        outcome = 'job trained';
      }
      await opts.during?.(prefix);
      await waitFor(async () => ours(prefix).length > 0 && ours(prefix).every((i) => i.destroyedAt !== null), `${name}: every instance destroyed`, 120_000);
      const destroyed = await waitFor(async () => {
        const rows = await app.get(InstanceStore).live();
        const all = (await readStored(prefix, 'instance.destroyed')).map((e) => e.data);
        return rows.length === 0 && all.length === ours(prefix).length ? all : null;
      }, `${name}: an instance.destroyed for each instance`);
      const bill = vast.bill().instances.filter((l) => l.label?.startsWith(`trainyard.${prefix}.`));
      const billed = bill.reduce((s, l) => s + l.total, 0);
      const booked = destroyed.reduce((s: number, d: { cost: number }) => s + d.cost, 0);
      expect(billed).toBeGreaterThan(0);
      // Within 2%, or two seconds of each instance's price where polls run late on a loaded machine.
      const twoSeconds = ours(prefix).reduce((sum, i) => sum + (i.dphTotal * 2) / 3600, 0);
      expect(Math.abs(booked - billed)).toBeLessThan(Math.max(0.02 * billed, twoSeconds));
      expect(peakAlive(ours(prefix))).toBeLessThanOrEqual(Number(env(prefix, db, opts.env).VAST_MAX_INSTANCES));
      const reasons = destroyed.map((d: { reason: string }) => d.reason).join(', ');
      const longest = Math.max(...ours(prefix).map((i) => (i.destroyedAt! - i.createdAt) / 1000));
      table.push(
        `| ${name} | ${outcome || 'as expected'}; destroyed: ${reasons} | ${ours(prefix).length} created, 0 alive | $${booked.toFixed(6)} / $${billed.toFixed(6)} (${(((booked - billed) / billed) * 100).toFixed(2)}%) | ${longest.toFixed(1)} |`,
      );
      return destroyed;
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  }

  it('a vanished offer (404) and a gone one (410): the next offer is rented, nothing was billed for them', async () => {
    await scenario('vanished offer 404, gone offer 410', [{ ...good, dph_base: 0.1, scenario: 'vanished' }, { ...good, dph_base: 0.11, scenario: 'gone' }, good]);
  });

  it('an instance stuck loading past the provisioning timeout, then exited, unknown and offline ones: each destroyed, the next offer used', async () => {
    const destroyed = await scenario('stuck loading, exited, unknown, offline', [
      { ...good, dph_base: 0.1, scenario: 'stuck_loading' },
      { ...good, dph_base: 0.11, scenario: 'exited' },
      { ...good, dph_base: 0.12, scenario: 'unknown' },
      { ...good, dph_base: 0.13, scenario: 'offline' },
      good,
    ]);
    expect(destroyed.filter((d: { reason: string }) => d.reason === 'failed')).toHaveLength(4);
  });

  it('a container that fails with an OCI runtime error', async () => {
    const destroyed = await scenario('OCI runtime error', [{ ...good, dph_base: 0.1, scenario: 'oci_failure' }, good]);
    expect(destroyed.map((d: { detail: string }) => d.detail).join('\n')).toMatch(/OCI runtime/);
  });

  it('an insufficient bid, answered with an error and a stopped new_contract', async () => {
    await scenario('insufficient bid with new_contract', [{ ...good, dph_base: 0.1, scenario: 'create_error_with_contract' }, good]);
  });

  it('an outbid interruptible instance: destroyed once, as outbid, its lease lost', async () => {
    const destroyed = await scenario('outbid (interruptible)', [{ ...good, scenario: 'outbid', outbidAfterMs: 60_000 }], {
      env: { VAST_INTERRUPTIBLE: 'true' },
      expectJob: false,
      during: async (prefix) => {
        const [ready] = await waitFor(
          async () => {
            const r = (await readStored(prefix, 'instance.ready')).map((e) => e.data);
            return r.length ? r : null;
          },
          'the bid instance ready',
          180_000,
        );
        vast.outbid(ready.instanceId);
      },
    });
    expect(destroyed.map((d: { reason: string }) => d.reason)).toEqual(['outbid']);
  });

  it('a late destroy from a path holding a stale view (the lost tunnel giving up after an outbid) changes nothing', async () => {
    const prefix = testPrefix('vlate');
    const db = await createTestDatabase();
    vast.setOffers([good]);
    const app = await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(env(prefix, db, { VAST_IDLE_SECONDS: '600' })))] });
    try {
      await app.get(NatsBus).publish('job.requested', { spec: job('LATUSDT', 'r-late') });
      const store = app.get(InstanceStore);
      const stale = await waitFor(async () => (await store.withStatus(['ready', 'busy']))[0] ?? null, 'an instance serving', 240_000);
      vast.outbid(stale.vastId!);
      await waitFor(async () => (await store.get(stale.id))?.status === 'destroyed', 'the outbid instance destroyed');
      await app.get(InstanceTeardown).destroy(stale, 'failed', 'ssh tunnel lost and not restored');
      const row = (await store.get(stale.id))!;
      expect(row).toMatchObject({ status: 'destroyed', destroyReason: 'outbid' });
      expect((await readStored(prefix, 'instance.destroyed')).map((e) => e.data.reason)).toEqual(['outbid']);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  const sleeper = (symbol: string, runId: string, seconds: number) =>
    toJobSpec(testJobDefinition({ symbol, runId, driver: { kind: 'command', trainer: 'sleep', args: [String(seconds)] }, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
  const isSleep = (seconds: number) => (p: { cmdline: string }) => new RegExp(`(^|[/ ])sleep ${seconds}$`).test(p.cmdline);

  it('a network drop is ridden out: the broker reconnects over SSH, forwards the same port again, and the outcome of the job that ended meanwhile arrives once', async () => {
    const prefix = testPrefix('vnet');
    const db = await createTestDatabase();
    vast.setOffers([good]);
    const app = await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(env(prefix, db, { VAST_IDLE_SECONDS: '600', BROKER_AGENT_SILENCE_SECONDS: '120' })))] });
    try {
      const spec = sleeper('NETUSDT', 'r-net', 5);
      await app.get(NatsBus).publish('job.requested', { spec });
      await waitFor(async () => (await readStored(prefix, 'job.started')).length === 1, 'the job running', 240_000);
      const row = (await app.get(InstanceStore).withStatus(['ready', 'busy']))[0]!;
      await waitFor(async () => vast.processes(row.vastId!).some(isSleep(5)), 'the trainer running on the instance');
      // The rented agent runs with the V8 flags of every service, as the local one does.
      expect(vast.processes(row.vastId!).map((p) => p.cmdline)).toContain(`../node ${SERVICE_NODE_FLAGS.join(' ')} apps/trainer-agent/dist/bundle/agent.js`);
      vast.cutNetwork(row.vastId!);
      await waitFor(async () => app.get(SshSessions).droppedAt(row.id) !== undefined, 'the broker seeing its tunnel drop');
      await waitFor(async () => !vast.processes(row.vastId!).some(isSleep(5)), 'the job ending while the instance is cut off', 60_000);
      vast.restoreNetwork(row.vastId!);
      // `sleep` prints no result line, so its outcome is a trainer error: what matters is that it arrives, once.
      const outcome = await waitFor(
        async () => {
          const s = await readStored(prefix, 'job.failed');
          return s.length ? s : null;
        },
        'the job outcome through the restored tunnel',
        120_000,
      );
      expect(outcome.map((e) => [e.data.jobId, e.data.errorType])).toEqual([[spec.jobId, 'trainer_error']]);

      expect(app.get(SshSessions).has(row.id)).toBe(true);
      expect((await app.get(InstanceStore).get(row.id))?.status).toMatch(/^(ready|busy)$/);
      expect(await readStored(prefix, 'lease.lost')).toEqual([]);
      expect(await readStored(prefix, 'instance.destroyed')).toEqual([]);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('a broker stopped while it restores a tunnel waits for that, then destroys the instance as stopped, and nothing of it runs on', async () => {
    const prefix = testPrefix('vnetstop');
    const db = await createTestDatabase();
    vast.setOffers([good]);
    const app = await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(env(prefix, db, { VAST_IDLE_SECONDS: '600', BROKER_AGENT_SILENCE_SECONDS: '120' })))] });
    let closed = false;
    try {
      await app.get(NatsBus).publish('job.requested', { spec: sleeper('NSTUSDT', 'r-netstop', 30) });
      await waitFor(async () => (await readStored(prefix, 'job.started')).length === 1, 'the job running', 240_000);
      const row = (await app.get(InstanceStore).withStatus(['ready', 'busy']))[0]!;
      vast.cutNetwork(row.vastId!);
      await waitFor(async () => app.get(SshSessions).droppedAt(row.id) !== undefined, 'the broker seeing its tunnel drop');
      await app.close();
      closed = true;
      // The reconnect ended with the broker: no handshake hangs on the cut link until ssh2's 20 s ready timeout, when it
      // would read a database that is gone.
      await waitFor(async () => vast.sshConnections(row.vastId!) === 0, 'no ssh connection left hanging', 10_000);
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        const { rows } = await pg.query('SELECT status, destroy_reason FROM broker.instances');
        expect(rows).toEqual([{ status: 'destroyed', destroy_reason: 'shutdown' }]);
      } finally {
        await pg.end();
      }
      expect(ours(prefix).map((i) => i.destroyedAt !== null)).toEqual([true]);
      expect(vast.processes(row.vastId!)).toEqual([]);
    } finally {
      if (!closed) await app.close();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });

  it('rents what waiting jobs need even while an optional call (price increases) fails on every tick', async () => {
    const own = await startVastTestServer({ loadingMs: 100, offers: [good, { ...good, dph_base: 0.31 }] });
    const prefix = testPrefix('vopt');
    const db = await createTestDatabase();
    const app = await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse({ ...env(prefix, db, { VAST_MAX_INSTANCES: '2' }), VAST_API_KEY: own.apiKey, VAST_API_URL: own.url }))] });
    try {
      const bus = app.get(NatsBus);
      const sleeper = (symbol: string) =>
        toJobSpec(testJobDefinition({ symbol, runId: 'r-opt', driver: { kind: 'command', trainer: 'sleep', args: ['30'] }, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
      for (const s of ['OP1USDT', 'OP2USDT']) await bus.publish('job.requested', { spec: sleeper(s) });
      await waitFor(async () => (await readStored(prefix, 'job.started')).length === 2, 'two jobs running on the first instance', 240_000);
      own.failNext(100_000, 500, 'pending-price-increases');
      await bus.publish('job.requested', { spec: sleeper('OP3USDT') });
      await waitFor(async () => (await readStored(prefix, 'instance.created')).length === 2, 'a second instance rented for the third job', 120_000);
    } finally {
      await app.close();
      await db.drop();
      await deleteTestStream(prefix);
      expect(own.alive()).toEqual([]);
      await own.close();
    }
  });

  it('429 without Retry-After on every route, and show-instance rate-limited while it boots: nothing good is destroyed', async () => {
    const destroyed = await scenario('429 without Retry-After on every route', [good], {
      arrange: () => {
        for (const route of ['bundles', 'PUT /api/v0/asks', 'POST /api/v0/instances/{id}/ssh', 'DELETE /api/v0/instances', 'api/v1/instances']) vast.rateLimitNext(2, route);
        vast.rateLimitNext(2, 'GET /api/v0/instances/{id}/');
      },
    });
    expect(destroyed.map((d: { reason: string }) => d.reason)).toEqual(['idle']);
  });

  it('a create that acted and answered 502 is found by its label at once, and a destroy that acted and answered 502 is confirmed', async () => {
    let createdAt = 0;
    const destroyed = await scenario('502 after acting on create and on destroy', [{ ...good, dph_base: 0.1 }, good], {
      arrange: () => {
        createdAt = Date.now();
        vast.failAfterActing(1, 'PUT /api/v0/asks/{id}/');
        vast.failAfterActing(1, 'DELETE /api/v0/instances/{id}/');
      },
    });
    expect(destroyed).toHaveLength(2);
    const lost = vast.instances().find((i) => i.dphTotal < good.dph_base! && i.createdAt >= createdAt)!;
    // Found and destroyed within seconds, not at the next reap (VAST_REAP_SECONDS defaults to 300).
    expect((lost.destroyedAt! - lost.createdAt) / 1000).toBeLessThan(10);
  });

  it('stops within 10 s on SIGTERM with a launch in flight, and leaves nothing alive', async () => {
    const prefix = testPrefix('vterm');
    const db = await createTestDatabase();
    vast.setOffers([{ ...good, scenario: 'stuck_loading' }]);
    await (await bootTestApp({ imports: [AppModule.forRoot(brokerEnv.parse(env(prefix, db, { VAST_MAX_INSTANCES: '0' })))] })).close();
    const childEnv = { ...process.env, ...env(prefix, db, { VAST_PROVISION_TIMEOUT_SECONDS: '600' }), PORT: '0', OTEL_SDK_DISABLED: 'true' };
    const child = spawn(process.execPath, ['--require', './apps/gpu-broker/dist/instrumentation.js', './apps/gpu-broker/dist/main.js'], { cwd: repoRoot(), env: childEnv, stdio: 'ignore' });
    const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(Date.now())));
    const bus = await NatsBus.connect({ serviceName: 'vast-spec', natsUrl: testNatsUrl(), prefix });
    try {
      await bus.publish('job.requested', { spec: job('TRMUSDT', 'r-term') });
      await waitFor(async () => ours(prefix).some((i) => i.actualStatus === 'loading'), 'an instance booting', 120_000);
      const sent = Date.now();
      child.kill('SIGTERM');
      const stoppedAfter = ((await exited) - sent) / 1000;
      expect(stoppedAfter).toBeLessThan(10);
      expect(ours(prefix).filter((i) => i.destroyedAt === null)).toEqual([]);
      table.push(`| SIGTERM while an instance boots | broker exited in ${stoppedAfter.toFixed(1)} s | ${ours(prefix).length} created, 0 alive | (destroyed at shutdown) | - |`);
    } finally {
      child.kill('SIGKILL');
      await bus.onApplicationShutdown();
      await db.drop();
      await deleteTestStream(prefix);
    }
  });
});
