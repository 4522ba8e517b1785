import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toJobSpec } from '@trainyard/contracts';
import { testJobDefinition, TestService } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from './broker.store';
import { LeaseEntity } from './lease.entity';

jest.setTimeout(120_000);

/** A lease's moves as one conditional UPDATE each, against PostgreSQL. */
describe('BrokerStore lease transitions', () => {
  const svc = new TestService({ env: brokerEnv, module: AppModule.forRoot, prefix: 'leasetx', transport: false });
  let app: INestApplication;
  let store: BrokerStore;

  beforeAll(async () => {
    app = await svc.start({ BROKER_TICK_MS: '3600000' });
    store = app.get(BrokerStore);
  });

  afterAll(() => svc.close());

  async function assigned(symbols: string[]): Promise<LeaseEntity[]> {
    const repo = app.get(DataSource).getRepository(LeaseEntity);
    const now = new Date('2026-12-01T10:00:00Z');
    const leases = symbols.map((symbol) => {
      const spec = toJobSpec(testJobDefinition({ symbol, runId: 'r-tx' }), 1);
      return repo.create({
        id: `${spec.jobId}-a1-lease`,
        jobId: spec.jobId,
        attempt: 1,
        agentId: 'agent-1',
        provider: 'local',
        device: 'gpu:0',
        gpuMemoryGb: 6.5,
        pricePerHour: 0.25,
        status: 'assigned',
        spec,
        createdAt: now,
        endsBy: new Date(now.getTime() + 3_600_000),
        traceContext: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      });
    });
    await repo.insert(leases);
    return leases;
  }

  it('moves a lease by its job and attempt, answers it whole, and refuses a move its state does not allow', async () => {
    const [lease] = await assigned(['TXAUSDT']);
    const startedAt = new Date('2026-12-01T10:00:05Z');
    const running = await store.transitionLease({ jobId: lease!.jobId, attempt: 1 }, 'running', { startedAt });
    expect(running).toEqual({ ...lease, status: 'running', startedAt, endedAt: null, endReason: null, outcomePublished: true, missingSince: null });
    expect(running).toBeInstanceOf(LeaseEntity);
    const endedAt = new Date('2026-12-01T10:01:00Z');
    expect(await store.transitionLease({ id: lease!.id }, 'released', { endedAt, endReason: 'succeeded' })).toMatchObject({ status: 'released', endedAt, outcomePublished: false });
    expect(await store.transitionLease({ jobId: lease!.jobId, attempt: 1 }, 'running', { startedAt })).toBeNull();
    expect(await store.transitionLease({ id: lease!.id }, 'lost', { endedAt, endReason: 'agent silent' })).toBeNull();
    expect(await store.transitionLease({ jobId: lease!.jobId, attempt: 2 }, 'released')).toBeNull();
  });

  it('lets exactly one of an end and a loss racing for each lease take it', async () => {
    const leases = await assigned(Array.from({ length: 20 }, (_, i) => `TXR${i}USDT`));
    const at = new Date();
    const outcomes = await Promise.all(
      leases.map(async (l, i) => {
        const end = () => store.transitionLease({ jobId: l.jobId, attempt: 1 }, 'released', { endedAt: at, endReason: 'succeeded' });
        const loss = () => store.transitionLease({ id: l.id }, 'lost', { endedAt: at, endReason: 'agent silent' });
        const [a, b] = await Promise.all(i % 2 ? [end(), loss()] : [loss(), end()]);
        return [a, b].filter((x) => x !== null).map((x) => x!.status);
      }),
    );
    for (const won of outcomes) expect(won).toHaveLength(1);
  });
});
