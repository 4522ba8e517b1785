import type { INestApplication } from '@nestjs/common';
import { DataSource, In } from 'typeorm';
import { toJobSpec } from '@trainyard/contracts';
import { testJobDefinition, TestService } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from './broker.store';
import { AgentEntity } from '../agents/agent.entity';
import { LeaseEntity } from './lease.entity';
import { LeaseRequestEntity } from './lease-request.entity';
import { LeaseService } from './lease.service';

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

  it('marks the starts reported together in one statement, each lease only from a state that may run', async () => {
    const leases = await assigned(Array.from({ length: 12 }, (_, i) => `TXS${i}USDT`));
    const ended = leases[11]!;
    await store.transitionLease({ id: ended.id }, 'released', { endedAt: new Date(), endReason: 'cancelled' });
    const startedAt = new Date('2026-12-01T10:00:07Z');
    const query = jest.spyOn(app.get(DataSource), 'query');
    try {
      await Promise.all(leases.map((l) => store.markStarted(l.jobId, 1, startedAt)));
      // Reported in one turn of the event loop, as the events of one read of the socket are: one statement (the app's timers' queries aside).
      expect(query.mock.calls.filter(([sql]) => sql.includes("UPDATE broker.leases l SET status = 'running'"))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    const repo = app.get(DataSource).getRepository(LeaseEntity);
    for (const l of leases.slice(0, 11)) expect(await repo.findOneBy({ id: l.id })).toMatchObject({ status: 'running', startedAt });
    expect(await repo.findOneBy({ id: ended.id })).toMatchObject({ status: 'released', startedAt: null });
  });

  it('releases the leases whose ends are reported together in one statement, each once and only from an active state', async () => {
    const leases = await assigned(Array.from({ length: 10 }, (_, i) => `TXE${i}USDT`));
    const lost = leases[9]!;
    await store.transitionLease({ id: lost.id }, 'lost', { endedAt: new Date(), endReason: 'agent silent' });
    const ranFrom = new Date('2026-12-01T10:00:03Z');
    const endedAt = new Date('2026-12-01T10:02:00Z');
    const query = jest.spyOn(app.get(DataSource), 'query');
    let released: (LeaseEntity | null)[];
    try {
      released = await Promise.all([
        ...leases.map((l, i) => store.release({ jobId: l.jobId, attempt: 1, endedAt, endReason: 'succeeded', startedAt: i % 2 ? ranFrom : undefined })),
        // A second delivery of one of these ends, in the same batch.
        store.release({ jobId: leases[1]!.jobId, attempt: 1, endedAt, endReason: 'succeeded' }),
      ]);
      expect(query.mock.calls.filter(([sql]) => sql.includes("UPDATE broker.leases l SET status = 'released'"))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    for (const [i, l] of leases.slice(0, 9).entries()) {
      expect(released[i]).toBeInstanceOf(LeaseEntity);
      expect(released[i]).toMatchObject({ id: l.id, status: 'released', endedAt, endReason: 'succeeded', outcomePublished: false, startedAt: i % 2 ? ranFrom : null, spec: l.spec });
    }
    expect(released[9]).toBeNull();
    expect(released[10]).toBeNull();
  });

  it('places a request queued since the last pass without first asking whether any waits; a pass with none queued still asks', async () => {
    const now = new Date();
    await app.get(DataSource).getRepository(AgentEntity).insert({ id: 'tx-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 32, status: 'alive', startedAt: now, lastSeenAt: now });
    const spec = toJobSpec(testJobDefinition({ symbol: 'TXPUSDT', runId: 'r-tx', resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
    const hasPending = jest.spyOn(store, 'hasPending');
    try {
      await app.get(LeaseService).request(spec);
      expect(await app.get(DataSource).getRepository(LeaseEntity).findOneBy({ jobId: spec.jobId, attempt: 1 })).toMatchObject({ agentId: 'tx-box', status: 'assigned' });
      expect(hasPending).not.toHaveBeenCalled();
      // A heartbeat's or a job end's pass, with nothing queued since: one read, and no lock, says whether any waits.
      await app.get(LeaseService).dispatch();
      expect(hasPending).toHaveBeenCalledTimes(1);
    } finally {
      hasPending.mockRestore();
      await app.get(DataSource).getRepository(AgentEntity).update({ id: 'tx-box' }, { status: 'silent' });
    }
  });

  it('queues the requests delivered together in one statement, each once, and answers a repeat with the request as it stands', async () => {
    const specs = Array.from({ length: 12 }, (_, i) => toJobSpec(testJobDefinition({ symbol: `TXQ${i}USDT`, runId: 'r-tx' }), 1));
    const at = new Date('2026-12-01T10:00:00Z');
    // Queued before the burst: its delivery in the burst is a repeat.
    expect(await store.enqueue(specs[11]!, at)).toBeNull();
    const traceContext = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const query = jest.spyOn(app.get(DataSource), 'query');
    let answers: (LeaseRequestEntity | null)[];
    try {
      answers = await Promise.all([
        ...specs.map((spec) => store.enqueue(spec, at, traceContext)),
        // A second delivery of one of these requests, in the same batch.
        store.enqueue(specs[1]!, at, traceContext),
      ]);
      // Delivered in one turn of the event loop: one statement.
      expect(query.mock.calls.filter(([sql]) => sql.includes('INSERT INTO broker.lease_requests'))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    expect(answers.slice(0, 11)).toEqual(Array(11).fill(null));
    expect(answers[11]).toMatchObject({ jobId: specs[11]!.jobId, attempt: 1, status: 'pending', traceContext: null });
    expect(answers[12]).toMatchObject({ jobId: specs[1]!.jobId, attempt: 1, status: 'pending', traceContext });
    const rows = await app
      .get(DataSource)
      .getRepository(LeaseRequestEntity)
      .findBy({ jobId: In(specs.map((s) => s.jobId)) });
    expect(rows).toHaveLength(12);
    for (const spec of specs.slice(0, 11)) {
      expect(rows.find((r) => r.jobId === spec.jobId)).toMatchObject({ attempt: 1, status: 'pending', spec, requestedAt: at, traceContext, priorityRank: expect.any(Number) });
    }
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

  it('grants placements in one statement: specs and trace contexts copied from the requests, a request cancelled first left alone', async () => {
    const specs = ['TXGAUSDT', 'TXGBUSDT', 'TXGCUSDT'].map((symbol) => toJobSpec({ ...testJobDefinition({ symbol, runId: 'r-grant' }), timeoutMinutes: 90 }, 1));
    const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01' };
    for (const spec of specs) await store.enqueue(spec, new Date('2026-12-01T09:59:00Z'), trace);
    await store.cancelPending(specs[2]!.jobId, 'operator');
    const at = new Date('2026-12-01T10:00:00.123Z');
    const grants = specs.map((spec, i) => ({
      jobId: spec.jobId,
      attempt: 1,
      leaseId: `${spec.jobId}-a1-lease`,
      agentId: 'agent-1',
      provider: 'local' as const,
      device: `gpu:${i}`,
      gpuMemoryGb: 6.5,
      pricePerHour: 0.25,
    }));
    const granted = (await store.grant(grants, at, (await store.dispatchState()).epoch))!;
    expect(granted.map((l) => l.jobId).sort()).toEqual([specs[0]!.jobId, specs[1]!.jobId]);
    const first = granted.find((l) => l.jobId === specs[0]!.jobId)!;
    expect(first).toBeInstanceOf(LeaseEntity);
    expect(first).toEqual({
      id: `${specs[0]!.jobId}-a1-lease`,
      jobId: specs[0]!.jobId,
      attempt: 1,
      agentId: 'agent-1',
      provider: 'local',
      device: 'gpu:0',
      gpuMemoryGb: 6.5,
      pricePerHour: 0.25,
      status: 'assigned',
      spec: specs[0],
      createdAt: at,
      endsBy: new Date(at.getTime() + 90 * 60_000),
      startedAt: null,
      endedAt: null,
      endReason: null,
      traceContext: trace,
      outcomePublished: true,
      missingSince: null,
    });
    expect(await store.findLease(first.id)).toEqual(first);
    const requests: { job_id: string; status: string }[] = await app.get(DataSource).query(`SELECT job_id, status FROM broker.lease_requests WHERE job_id LIKE 'r-grant-%' ORDER BY job_id`);
    expect(requests.map((r) => r.status)).toEqual(['leased', 'leased', 'cancelled']);
    expect(await store.findLease(`${specs[2]!.jobId}-a1-lease`)).toBeNull();
  });

  it('reads the alive agents with what their active leases hold, per device, in one statement', async () => {
    const agents = app.get(DataSource).getRepository(AgentEntity);
    const seen = new Date();
    const gpu = (index: number) => ({ index, name: 'H100', memoryTotalMb: 81_920, memoryUsedMb: 0, utilization: 0 });
    await agents.insert([
      { id: 'agent-1', host: 'h1', provider: 'local', gpus: [gpu(0), gpu(1), gpu(2)], cpuSlots: 4, status: 'alive', startedAt: seen, lastSeenAt: seen },
      { id: 'agent-2', host: 'h2', provider: 'vast', gpus: [], cpuSlots: 2, status: 'alive', startedAt: seen, lastSeenAt: seen },
      { id: 'agent-3', host: 'h3', provider: 'local', gpus: [gpu(0)], cpuSlots: 2, status: 'silent', startedAt: seen, lastSeenAt: seen },
    ]);
    const state = () => store.dispatchState();
    const before = await state();
    const [running, ended] = await assigned(['TXPAUSDT', 'TXPBUSDT', 'TXPCUSDT']);
    await store.transitionLease({ id: running!.id }, 'running', { startedAt: seen });
    await store.transitionLease({ id: ended!.id }, 'released', { endedAt: seen, endReason: 'succeeded' });
    const { agents: alive, usage } = await state();
    expect(alive).toEqual([
      { id: 'agent-1', provider: 'local', gpus: [gpu(0), gpu(1), gpu(2)], cpuSlots: 4 },
      { id: 'agent-2', provider: 'vast', gpus: [], cpuSlots: 2 },
    ]);
    // Two leases active on agent-1's gpu:0 (assigned and running), earlier tests' still-active ones included.
    const gpu0Before = before.usage.get('agent-1')!.gpus.get(0) ?? { jobs: 0, memoryGb: 0 };
    expect(usage.get('agent-1')!.gpus.get(0)).toEqual({ jobs: gpu0Before.jobs + 2, memoryGb: gpu0Before.memoryGb + 13 });
    expect(usage.get('agent-2')).toEqual({ cpuJobs: 0, gpus: new Map() });
    expect(usage.has('agent-3')).toBe(false);
  });

  it('grants only on the epoch it read: of two passes that read the same, one grants and the other grants nothing and reads again', async () => {
    const specs = ['TXEAUSDT', 'TXEBUSDT'].map((symbol) => toJobSpec(testJobDefinition({ symbol, runId: 'r-epoch' }), 1));
    for (const spec of specs) await store.enqueue(spec, new Date('2026-12-01T09:59:00Z'));
    const grant = (spec: (typeof specs)[number]) => ({
      jobId: spec.jobId,
      attempt: 1,
      leaseId: `${spec.jobId}-a1-lease`,
      agentId: 'agent-1',
      provider: 'local' as const,
      device: 'gpu:0',
      gpuMemoryGb: 6.5,
      pricePerHour: 0.25,
    });
    const { epoch } = await store.dispatchState();
    const at = new Date('2026-12-01T10:00:00Z');
    // Two replicas' passes read the same state and place a job each at once: one of them wins.
    const outcomes = await Promise.all(specs.map((spec) => store.grant([grant(spec)], at, epoch)));
    expect(outcomes.filter((o) => o === null)).toHaveLength(1);
    const winner = outcomes.find((o) => o !== null)!;
    expect(winner).toHaveLength(1);
    const lost = specs.find((spec) => spec.jobId !== winner[0]!.jobId)!;
    expect(await store.findLease(`${lost.jobId}-a1-lease`)).toBeNull();
    const requests: { job_id: string; status: string }[] = await app.get(DataSource).query(`SELECT job_id, status FROM broker.lease_requests WHERE job_id = $1`, [lost.jobId]);
    expect(requests).toEqual([{ job_id: lost.jobId, status: 'pending' }]);
    // Read again, the loser's pass sees the winner's lease and grants on the epoch it moved to.
    const again = await store.dispatchState();
    expect(BigInt(again.epoch)).toBe(BigInt(epoch) + 1n);
    expect(again.usage.get('agent-1')?.gpus.get(0)?.jobs).toBeGreaterThan(0);
    expect(await store.grant([grant(lost)], at, again.epoch)).toHaveLength(1);
    expect(await store.grant([grant(lost)], at, again.epoch)).toBeNull();
  });

  it('queues a request once: a new one in one statement (answered null), a repeat answered with the request as it stands', async () => {
    const spec = toJobSpec(testJobDefinition({ symbol: 'TXQAUSDT', runId: 'r-enqueue' }), 1);
    const at = new Date('2026-12-01T10:00:00Z');
    expect(await store.enqueue(spec, at)).toBeNull();
    expect(await store.enqueue(spec, new Date(at.getTime() + 1000))).toMatchObject({ jobId: spec.jobId, attempt: 1, status: 'pending', requestedAt: at });
  });
});
