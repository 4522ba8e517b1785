import type { INestApplication } from '@nestjs/common';
import { toJobSpec } from '@trainyard/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsBus } from '@trainyard/messaging';
import { NatsCluster, readStored, testJobDefinition, TestService, waitFor } from '@trainyard/testing';
import { AgentsService } from '../agents/agents.service';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from './broker.store';
import { LeaseService } from './lease.service';

jest.setTimeout(120_000);

/**
 * Chaos finding (cluster seed 7218): the broker committed a lease as lost while JetStream could not
 * store messages, its lease.lost and fence were never published, and the job stayed released for good.
 * Here on a nats-server of the test's own, killed at that moment and restarted on the same store.
 */
describe('gpu-broker lease outcomes across a NATS outage', () => {
  const svc = new TestService({ env: brokerEnv, module: AppModule.forRoot, prefix: 'outcome' });
  const { prefix } = svc;
  let nats: NatsCluster;
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    nats = await NatsCluster.start(1);
    // The test drives the agent check itself, so it knows when the one that loses the lease has returned.
    app = await svc.start({ NATS_URL: nats.url, BROKER_TICK_MS: '3600000', BROKER_AGENT_SILENCE_SECONDS: '3', BROKER_UNREPORTED_LEASE_SECONDS: '1' });
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    try {
      await svc.close();
    } finally {
      // Even when closing failed, as it does after a test that failed with the server killed.
      await nats?.stop();
    }
  });

  const heartbeat = (agentId: string, running: { jobId: string; attempt: number; leaseId: string }[] = []) =>
    bus.publish('agent.heartbeat', { agentId, host: 'box', provider: 'local', gpus: [], cpuSlots: 1, running, startedAt: '2026-11-30T00:00:00.000Z' });
  const placed = async (agentId: string) => {
    const a = await waitFor(async () => (await readStored(prefix, `agent.${agentId}.assign`, nats.url))[0] ?? null, `a job placed on ${agentId}`);
    return { jobId: a.data.spec.jobId as string, attempt: a.data.spec.attempt as number, leaseId: a.data.lease.leaseId as string };
  };
  const leaseRow = async (id: string) => (await app.get(BrokerStore).manager.query(`SELECT status, outcome_published FROM broker.leases WHERE id = $1`, [id]))[0];

  it('announces a lease lost during the outage once the bus is back: lease.lost and the fence, once each', async () => {
    const agents = app.get(AgentsService);
    await heartbeat('cpu-box');
    await bus.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: 'LOSTUSDT', runId: 'r1', jobId: 'r1-LOSTUSDT' }), 1) });
    const { leaseId } = await placed('cpu-box');

    await nats.kill(0);
    // The agent is silent now; the check that takes its lease back fails to publish and returns.
    await waitFor(
      async () => {
        await agents.tick();
        return (await leaseRow(leaseId))?.status === 'lost';
      },
      'the lease taken back while NATS is down',
      60_000,
      200,
    );
    expect((await leaseRow(leaseId)).outcome_published).toBe(false);
    expect((await readStored(prefix, 'lease.lost', nats.url).catch(() => [])).length).toBe(0);

    await nats.restart(0);
    const lost = await waitFor(
      async () => {
        await agents.tick();
        const l = await readStored(prefix, 'lease.lost', nats.url);
        return l.length ? l : null;
      },
      'lease.lost announced after the outage',
      60_000,
      500,
    );
    expect(lost.map((e) => e.data)).toEqual([expect.objectContaining({ leaseId, jobId: 'r1-LOSTUSDT', attempt: 1, reason: expect.stringMatching(/silent/) })]);
    await waitFor(async () => (await leaseRow(leaseId)).outcome_published === true, 'the outcome recorded as published');
    const fences = (await readStored(prefix, 'job.*.cancel', nats.url)).map((e) => e.data).filter((d) => d.leaseId === leaseId);
    expect(fences).toEqual([expect.objectContaining({ jobId: 'r1-LOSTUSDT', attempt: 1, agentId: 'cpu-box' })]);
  });

  it('takes back a lease its heartbeating agent no longer lists (an outcome it could not report), and keeps the ones it lists', async () => {
    const agents = app.get(AgentsService);
    await heartbeat('quiet-box');
    await heartbeat('busy-box');
    await bus.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: 'QUIETUSDT', runId: 'r2', jobId: 'r2-QUIETUSDT' }), 1) });
    await bus.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: 'BUSYUSDT', runId: 'r2', jobId: 'r2-BUSYUSDT' }), 1) });
    const quiet = await placed('quiet-box');
    const busy = await placed('busy-box');
    const lost = await waitFor(
      async () => {
        await heartbeat('quiet-box');
        await heartbeat('busy-box', [busy]);
        await agents.tick();
        return (await readStored(prefix, 'lease.lost', nats.url)).map((e) => e.data).find((d) => d.leaseId === quiet.leaseId);
      },
      'the unlisted lease lost',
      60_000,
      300,
    );
    expect(lost).toMatchObject({ jobId: quiet.jobId, agentId: 'quiet-box', reason: expect.stringMatching(/has not listed it as running/) });
    expect((await leaseRow(busy.leaseId)).status).toBe('assigned');
  });

  it('answers a repeated request for an attempt cancelled while it waited with its job.cancelled again, should the first have been lost', async () => {
    const spec = toJobSpec(testJobDefinition({ symbol: 'WAITUSDT', runId: 'r3', jobId: 'r3-WAITUSDT', resources: { gpuMemoryGb: 500, cpus: 1 } }), 1);
    await bus.publish('job.requested', { spec }, { id: 'r3-WAITUSDT-a1' });
    await waitFor(async () => (await app.get(BrokerStore).manager.query(`SELECT 1 FROM broker.lease_requests WHERE job_id = 'r3-WAITUSDT'`)).length === 1, 'the request queued');
    await bus.publish('job.cancel', { jobId: 'r3-WAITUSDT', reason: 'operator' });
    const cancelledHere = async () => (await readStored(prefix, 'job.cancelled', nats.url)).map((e) => e.data).filter((d) => d.jobId === 'r3-WAITUSDT');
    await waitFor(async () => (await cancelledHere()).length === 1, 'job.cancelled for the waiting request');

    // The announcement lost: gone from the stream, and past the stream's de-duplication window.
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = prefix.toUpperCase();
      await jsm.streams.update(stream, { duplicate_window: 1_000_000_000 });
      await jsm.streams.purge(stream, { filter: `${prefix}.job.cancelled` });
    } finally {
      await nc.close();
    }
    let repeat = 0;
    const again = await waitFor(
      async () => {
        await bus.publish('job.requested', { spec }, { id: `r3-WAITUSDT-a1-r${++repeat}` });
        const c = await cancelledHere();
        return c.length ? c : null;
      },
      'job.cancelled announced again',
      30_000,
      500,
    );
    expect(again).toEqual([expect.objectContaining({ attempt: 1, reason: 'operator' })]);
    expect((await readStored(prefix, 'agent.*.assign', nats.url)).filter((a) => a.data.spec.jobId === 'r3-WAITUSDT')).toHaveLength(0);
  });

  it('marks every end of a burst as announced (several leases in one statement), so none is announced again', async () => {
    await bus.publish('agent.heartbeat', { agentId: 'wide-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 8, running: [], startedAt: '2026-11-30T00:00:00.000Z' });
    const jobIds = Array.from({ length: 8 }, (_, i) => `r4-B${i}USDT`);
    for (const [i, jobId] of jobIds.entries()) await bus.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: `B${i}USDT`, runId: 'r4', jobId }), 1) });
    // Earlier tests' agents are still alive here (this file drives the silence check itself): wherever they went.
    const leases = await waitFor(async () => {
      const assigned = (await readStored(prefix, 'agent.*.assign', nats.url)).filter((a) => jobIds.includes(a.data.spec.jobId)).map((a) => a.data.lease.leaseId as string);
      return assigned.length === jobIds.length ? assigned : null;
    }, 'eight jobs placed');
    const now = new Date();
    const marks = jest.spyOn(app.get(BrokerStore), 'markOutcomesPublished');
    await Promise.all(jobIds.map((jobId) => app.get(LeaseService).ended(jobId, 1, 'succeeded', now)));
    await waitFor(async () => (await Promise.all(leases.map(leaseRow))).every((r) => r.status === 'released' && r.outcome_published), 'every end marked announced');
    // Ends announced together are marked together: fewer statements than ends.
    expect(marks.mock.calls.length).toBeLessThan(jobIds.length);
    marks.mockRestore();
    const released = (await readStored(prefix, 'lease.released', nats.url)).map((e) => e.data.leaseId);
    expect(released.filter((id) => leases.includes(id)).sort()).toEqual([...leases].sort());
  });
});
