import { Controller, INestApplication } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import type { EventMessage } from '@trainyard/contracts';
import { NatsCluster, testPrefix, waitFor } from '@trainyard/testing';
import { Consume, connectJetStream, MessagingModule, NatsBus } from './index';

const handled = new Map<string, number>();

@Controller()
class ClusterProbe {
  @Consume('run.requested')
  async onRun(@Payload() m: EventMessage<'run.requested'>) {
    handled.set(m.runId!, (handled.get(m.runId!) ?? 0) + 1);
  }
}

/** Publishes until the cluster stores it; the same id makes a retried publish a duplicate the stream drops. */
async function publishSurely(bus: NatsBus, runId: string): Promise<void> {
  await waitFor(() => bus.publish('run.requested', { runId, trigger: 'event', symbols: ['BTCUSDT'] }, { id: `msg-${runId}` }).then(() => true), `the publish of ${runId}`, 60_000, 200);
}

describe('the bus on a 3-node NATS cluster (NATS_STREAM_REPLICAS=3)', () => {
  const prefix = testPrefix('cluster');
  let cluster: NatsCluster;
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
    const moduleRef = await Test.createTestingModule({
      imports: [
        MessagingModule.forRootAsync({
          useFactory: () => ({ serviceName: 'probe', natsUrl: cluster.url, prefix, streamReplicas: 3, ackWaitMs: 3000, retryBaseMs: 200 }),
        }),
      ],
      controllers: [ClusterProbe],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    connectJetStream(app);
    await app.startAllMicroservices();
    await app.init();
    bus = app.get(NatsBus);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await cluster?.stop();
  });

  it('loses nothing and stores nothing twice when the node leading the stream is killed mid-run', async () => {
    const info = await bus.jsm.streams.info(bus.streamName);
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas).toHaveLength(2);

    const ids = Array.from({ length: 60 }, (_, i) => `r${i}`);
    for (const id of ids.slice(0, 30)) await publishSurely(bus, id);

    const leader = (await bus.jsm.streams.info(bus.streamName)).cluster!.leader!;
    const killed = Number(leader.slice(1)) - 1;
    await cluster.kill(killed);
    for (const id of ids.slice(30)) await publishSurely(bus, id);

    await waitFor(() => ids.every((id) => handled.has(id)), 'every message handled with one node down', 60_000);
    const now = await waitFor(() => bus.jsm.streams.info(bus.streamName).catch(() => null), 'the stream to answer');
    expect(now.cluster?.leader).not.toBe(leader);
    expect(now.state.messages).toBe(ids.length);

    await cluster.restart(killed);
    await waitFor(
      async () => {
        const s = await bus.jsm.streams.info(bus.streamName);
        return s.cluster?.replicas?.length === 2 && s.cluster.replicas.every((r) => r.current);
      },
      'the restarted node to catch up',
      60_000,
      250,
    );
    expect([...handled.keys()].sort()).toEqual([...ids].sort());
  }, 240_000);
});
