import type { INestApplication } from '@nestjs/common';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { createTestDatabase, type TestDatabase } from '@trainyard/persistence';
import { bootTestApp, NatsCluster, readStored, testJobDefinition, testPrefix, waitFor } from '@trainyard/testing';
import { AgentsService } from '../agents/agents.service';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from './broker.store';

jest.setTimeout(120_000);

/**
 * Chaos finding (cluster seed 7218): the broker committed a lease as lost while JetStream could not
 * store messages, its lease.lost and fence were never published, and the job stayed released for good.
 * Here on a nats-server of the test's own, killed at that moment and restarted on the same store.
 */
describe('gpu-broker lease outcomes across a NATS outage', () => {
  const prefix = testPrefix('outcome');
  let nats: NatsCluster;
  let db: TestDatabase;
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    nats = await NatsCluster.start(1);
    db = await createTestDatabase();
    // The test drives the agent check itself, so it knows when the one that loses the lease has returned.
    const config = brokerEnv.parse({ NATS_URL: nats.url, TRAINYARD_PREFIX: prefix, DATABASE_URL: db.url, BROKER_TICK_MS: '3600000', BROKER_AGENT_SILENCE_SECONDS: '1' });
    app = await bootTestApp({ imports: [AppModule.forRoot(config)] });
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await nats?.stop();
  });

  const leaseRow = async (id: string) => (await app.get(BrokerStore).manager.query(`SELECT status, outcome_published FROM broker.leases WHERE id = $1`, [id]))[0];

  it('announces a lease lost during the outage once the bus is back: lease.lost and the fence, once each', async () => {
    const agents = app.get(AgentsService);
    await bus.publish('agent.heartbeat', { agentId: 'cpu-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 1, running: [], startedAt: new Date().toISOString() });
    const spec = toJobSpec(testJobDefinition({ symbol: 'LOSTUSDT', runId: 'r1', jobId: 'r1-LOSTUSDT' }), 1);
    await bus.publish('job.requested', { spec });
    const [assign] = await waitFor(async () => {
      const a = await readStored(prefix, 'agent.cpu-box.assign', nats.url);
      return a.length ? a : null;
    }, 'the job placed on cpu-box');
    const leaseId: string = assign.data.lease.leaseId;

    await nats.kill(0);
    // The agent is silent now; the check that takes its lease back fails to publish and returns.
    await waitFor(async () => {
      await agents.tick();
      return (await leaseRow(leaseId))?.status === 'lost';
    }, 'the lease taken back while NATS is down', 60_000, 200);
    expect((await leaseRow(leaseId)).outcome_published).toBe(false);
    expect((await readStored(prefix, 'lease.lost', nats.url).catch(() => [])).length).toBe(0);

    await nats.restart(0);
    const lost = await waitFor(async () => {
      await agents.tick();
      const l = await readStored(prefix, 'lease.lost', nats.url);
      return l.length ? l : null;
    }, 'lease.lost announced after the outage', 60_000, 500);
    expect(lost.map((e) => e.data)).toEqual([expect.objectContaining({ leaseId, jobId: 'r1-LOSTUSDT', attempt: 1, reason: expect.stringMatching(/silent/) })]);
    await waitFor(async () => (await leaseRow(leaseId)).outcome_published === true, 'the outcome recorded as published');
    const fences = (await readStored(prefix, 'job.*.cancel', nats.url)).map((e) => e.data).filter((d) => d.leaseId === leaseId);
    expect(fences).toEqual([expect.objectContaining({ jobId: 'r1-LOSTUSDT', attempt: 1, agentId: 'cpu-box' })]);
  });
});
