import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { BusRole } from '@trainyard/contracts';
import { canConnect, freePort, natsServerBinary, testJobDefinition, testPrefix, waitFor } from '@trainyard/testing';
import { toJobSpec } from '@trainyard/contracts';
import { natsServerConfig, newRoleCredentials, NatsBus } from './index';

const lease = {
  leaseId: 'l1',
  agentId: 'other-agent',
  provider: 'local' as const,
  device: 'cpu',
  gpuMemoryGb: 0,
  pricePerHour: 0,
  startedAt: new Date().toISOString(),
  endsBy: new Date().toISOString(),
};

/** The generated configuration on a real nats-server: each role's credential can do what its role does, and nothing else. */
describe('the bus with generated least-privilege credentials', () => {
  const prefix = testPrefix('auth');
  const dir = mkdtempSync(join(tmpdir(), 'ty-nats-auth-'));
  const credentials = newRoleCredentials();
  const seed = (role: BusRole) => credentials.find((c) => c.role === role)!.seed;
  let server: ChildProcess;
  let url: string;
  const buses: NatsBus[] = [];
  const bus = async (role: BusRole, provision = true) => {
    const b = await NatsBus.connect({ serviceName: role, natsUrl: url, prefix, auth: { nkeySeed: seed(role) }, provision });
    buses.push(b);
    return b;
  };

  beforeAll(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'nats.conf'), natsServerConfig({ prefix, credentials, host: '127.0.0.1', port, storeDir: join(dir, 'js') }));
    server = spawn(natsServerBinary(), ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
    await waitFor(() => canConnect(port), 'nats-server with the generated configuration');
  });

  afterAll(async () => {
    for (const b of buses) await b.onApplicationShutdown();
    server?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without credentials, and one with a key it does not know', async () => {
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    const stranger = await import('@nats-io/nats-core').then((m) => new TextDecoder().decode(m.nkeys.createUser().getSeed()));
    await expect(NatsBus.connect({ serviceName: 'x', natsUrl: url, prefix, auth: { nkeySeed: stranger } })).rejects.toThrow(/Authorization Violation/i);
  });

  it('lets a requester publish a run request and watch run events, and nothing else', async () => {
    const scheduler = await bus('scheduler');
    const requester = await bus('requester', false);
    const seen: string[] = [];
    const sub = requester.nc.subscribe(`${prefix}.run.>`, { callback: (_err, m) => void seen.push(m.subject) });
    await requester.publish('run.requested', { runId: 'r1', trigger: 'api', symbols: ['BTCUSDT'] });
    await scheduler.publish('run.started', { runId: 'r1', date: '2026-11-29', trigger: 'api', mode: 'hybrid', maxConcurrent: 1, totalJobs: 1, symbols: ['BTCUSDT'] });
    await waitFor(() => seen.includes(`${prefix}.run.started`), 'the requester sees run.started');
    sub.unsubscribe();

    await expect(requester.publish('agent.assign', { spec: toJobSpec(testJobDefinition({ symbol: 'BTCUSDT' }), 1), lease })).rejects.toThrow(/permission/i);
    await expect(requester.publish('job.cancel', { jobId: 'r1-BTCUSDT', reason: 'forged' })).rejects.toThrow(/permission/i);
    await expect(requester.publishRaw(`${prefix}.model.promote`, '{}')).rejects.toThrow(/permission/i);
    // No JetStream API: it can neither read the stream's history nor change the stream.
    await expect(requester.jsm.streams.info(requester.streamName)).rejects.toThrow(/permission|timeout/i);
    const stored = await scheduler.jsm.streams.info(scheduler.streamName, { subjects_filter: `${prefix}.>` });
    expect(Object.keys(stored.state.subjects ?? {}).sort()).toEqual([`${prefix}.run.requested`, `${prefix}.run.started`]);
  });

  it('lets an agent report on jobs, but not request runs nor assign work', async () => {
    const agent = await bus('agent');
    await agent.publish('agent.heartbeat', { agentId: 'a1', host: 'h', provider: 'local', gpus: [], cpuSlots: 1, running: [], startedAt: new Date().toISOString() });
    await expect(agent.publish('run.requested', { trigger: 'api', symbols: ['BTCUSDT'] })).rejects.toThrow(/permission/i);
    await expect(agent.publish('agent.assign', { spec: toJobSpec(testJobDefinition({ symbol: 'ETHUSDT' }), 1), lease })).rejects.toThrow(/permission/i);
    await expect(agent.publishRaw(`${prefix}.model.registered`, '{}')).rejects.toThrow(/permission/i);
  });

  it('lets the broker assign work and the scheduler request jobs, each only its own events', async () => {
    const broker = await bus('broker');
    const scheduler = await bus('scheduler');
    await broker.publish('agent.assign', { spec: toJobSpec(testJobDefinition({ symbol: 'SOLUSDT' }), 1), lease });
    await scheduler.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: 'SOLUSDT' }), 1) });
    await expect(scheduler.publish('agent.assign', { spec: toJobSpec(testJobDefinition({ symbol: 'SOLUSDT' }), 1), lease })).rejects.toThrow(/permission/i);
    await expect(broker.publishRaw(`${prefix}.run.completed`, '{}')).rejects.toThrow(/permission/i);
    // Nobody may delete the stream.
    await expect(broker.jsm.streams.delete(broker.streamName)).rejects.toThrow(/permission|timeout/i);
  });
});
