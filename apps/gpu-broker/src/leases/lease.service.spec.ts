import type { INestApplication } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { readStored, testJobDefinition, TestService, waitFor } from '@trainyard/testing';
import { CAPACITY_KEY, capacityBucket, toJobSpec, type JobDefinition } from '@trainyard/contracts';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { BrokerStore } from './broker.store';
import { gpuMemoryNeed } from './lease.service';

jest.setTimeout(60_000);

const definition = (symbol: string, gpuMemoryGb: number, priority: JobDefinition['priority'] = 'normal') =>
  testJobDefinition({ symbol, runId: 'r1', priority, driver: { kind: 'command', trainer: 'pytorch', args: [] }, resources: { gpuMemoryGb, cpus: 1 } });

/** The broker alone on real NATS and PostgreSQL; the test plays the agents and the scheduler. */
describe('gpu-broker leases', () => {
  const svc = new TestService({ env: brokerEnv, module: AppModule.forRoot, prefix: 'broker' });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  const startedAt = new Date().toISOString();

  beforeAll(async () => {
    app = await svc.start({ BROKER_TICK_MS: '100', BROKER_AGENT_SILENCE_SECONDS: '2', BROKER_MAX_JOBS_PER_GPU: '12' });
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  const gpu = { index: 0, name: 'H100', memoryTotalMb: 24 * 1024, memoryUsedMb: 0, utilization: 0 };
  const heartbeat = (agentId: string, started = startedAt, running: { jobId: string; attempt: number; leaseId: string }[] = [], gpus = agentId.startsWith('gpu') ? [gpu] : []) =>
    bus.publish('agent.heartbeat', {
      agentId,
      host: 'box',
      provider: 'local',
      gpus,
      cpuSlots: 1,
      running,
      startedAt: started,
    });
  const assigns = async (agentId: string) => (await readStored(prefix, `agent.${agentId}.assign`)).map((e) => e.data);

  it('packs GPU jobs by declared memory, queues by priority what does not fit, and places it when a lease ends', async () => {
    // The agent heartbeats with what it holds for as long as this test plays it: on a busy machine the
    // steps below can outlast the 2 s silence, and a silent agent is never placed on. The next test
    // relies on its silence after this one.
    let alive = true;
    const beating = (async () => {
      while (alive) {
        const released = new Set((await readStored(prefix, 'lease.released')).map((e) => e.data.leaseId));
        const held = (await assigns('gpu-box')).filter((a) => !released.has(a.lease.leaseId));
        await heartbeat(
          'gpu-box',
          startedAt,
          held.map((a) => ({ jobId: a.spec.jobId, attempt: 1, leaseId: a.lease.leaseId })),
        );
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await packsAndPlaces();
    } finally {
      alive = false;
      await beating;
    }
  });

  async function packsAndPlaces() {
    await heartbeat('gpu-box');
    await bus.publish('job.requested', { spec: toJobSpec(definition('AAAUSDT', 10), 1) });
    await bus.publish('job.requested', { spec: toJobSpec(definition('BBBUSDT', 10), 1) });
    await waitFor(async () => (await assigns('gpu-box')).length === 2, 'two GPU jobs placed');
    const kv = await bus.keyValue(capacityBucket(prefix));
    expect((await kv.get(CAPACITY_KEY))!.json()).toMatchObject({ agents: 1, gpus: 1, cpuSlots: 1, pricePerHour: 0 });
    // 24 GB less 5% holds two 10 GB jobs; the next two wait, the urgent one first.
    await bus.publish('job.requested', { spec: toJobSpec(definition('CCCUSDT', 10, 'low'), 1) });
    await bus.publish('job.requested', { spec: toJobSpec(definition('DDDUSDT', 10, 'urgent'), 1) });
    await new Promise((r) => setTimeout(r, 500));
    expect(await assigns('gpu-box')).toHaveLength(2);

    const [first] = await assigns('gpu-box');
    await heartbeat(
      'gpu-box',
      startedAt,
      (await assigns('gpu-box')).map((a) => ({ jobId: a.spec.jobId, attempt: 1, leaseId: a.lease.leaseId })),
    );
    await bus.publish('job.started', { jobId: first.spec.jobId, runId: 'r1', symbol: first.spec.symbol, attempt: 1, agentId: 'gpu-box', leaseId: first.lease.leaseId, workDir: '/w' });
    await bus.publish('job.succeeded', {
      jobId: first.spec.jobId,
      runId: 'r1',
      symbol: first.spec.symbol,
      attempt: 1,
      agentId: 'gpu-box',
      leaseId: first.lease.leaseId,
      date: '2026-11-22',
      featureset: 'fs1',
      costs: { feeBps: 10, spreadBps: 2 },
      artifactsPrefix: 'models/x/y',
      artifacts: [{ name: 'model.bin', uri: 'file:///x', sha256: 'a'.repeat(64), bytes: 1 }],
      metrics: { directionalHitRate: 0.5, sharpe: 0, maxDrawdown: 0, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
      evaluationWindow: { from: startedAt, to: startedAt, candles: 10 },
      trainSeconds: 1,
      startedAt,
      finishedAt: startedAt,
    });
    await waitFor(async () => (await assigns('gpu-box')).length === 3, 'the next job placed');
    expect((await assigns('gpu-box'))[2].spec.symbol).toBe('DDDUSDT');
    const released = await waitFor(async () => (await readStored(prefix, 'lease.released')).map((e) => e.data)[0], 'lease.released');
    expect(released).toMatchObject({ leaseId: first.lease.leaseId, jobId: first.spec.jobId });
  }

  it('takes back the leases of an agent that falls silent', async () => {
    const lost = await waitFor(
      async () => {
        const e = (await readStored(prefix, 'lease.lost')).map((m) => m.data).filter((d) => d.agentId === 'gpu-box');
        return e.length >= 2 ? e : null;
      },
      'lease.lost for the silent agent',
      15_000,
    );
    expect(lost[0].reason).toMatch(/silent/);
  });

  it('fences each lease it takes back: a cancel to its agent naming the lease and attempt, which leaves the job itself alone', async () => {
    const lost = (await readStored(prefix, 'lease.lost')).map((m) => m.data).filter((d) => d.agentId === 'gpu-box');
    expect(lost.length).toBeGreaterThanOrEqual(2);
    const fences = await waitFor(async () => {
      const f = (await readStored(prefix, 'job.*.cancel')).map((m) => m.data).filter((d) => d.leaseId);
      return lost.every((l) => f.some((c) => c.leaseId === l.leaseId)) ? f : null;
    }, 'a fencing cancel per lost lease');
    for (const l of lost) {
      expect(fences.find((c) => c.leaseId === l.leaseId)).toMatchObject({ jobId: l.jobId, attempt: l.attempt, agentId: 'gpu-box', reason: expect.stringMatching(/lost: .*silent/) });
      expect(fences.find((c) => c.leaseId === l.leaseId).requestedBy).toBeUndefined();
    }
    // A fence is not a job's cancel: the job's next attempt, waiting here, stays queued.
    await bus.publish('job.requested', { spec: toJobSpec({ ...definition('HHHUSDT', 500), jobId: 'r1-HHHUSDT' }, 2) });
    await new Promise((r) => setTimeout(r, 300));
    await bus.publish('job.cancel', { jobId: 'r1-HHHUSDT', reason: 'lease r1-HHHUSDT-a1-lease lost', leaseId: 'r1-HHHUSDT-a1-lease', attempt: 1, agentId: 'gpu-box' });
    await new Promise((r) => setTimeout(r, 700));
    expect((await readStored(prefix, 'job.cancelled')).some((e) => e.data.jobId === 'r1-HHHUSDT')).toBe(false);
    await bus.publish('job.cancel', { jobId: 'r1-HHHUSDT', reason: 'operator' });
    const cancelled = await waitFor(async () => (await readStored(prefix, 'job.cancelled')).map((e) => e.data).find((d) => d.jobId === 'r1-HHHUSDT'), 'the job cancel still works');
    expect(cancelled).toMatchObject({ attempt: 2, reason: 'operator' });
  });

  it('loses the leases an agent forgot when it restarted', async () => {
    await heartbeat('cpu-box');
    await bus.publish('job.requested', { spec: { ...toJobSpec({ ...definition('EEEUSDT', 0), jobId: 'r1-EEEUSDT' }, 1) } });
    const [assign] = await waitFor(async () => ((await assigns('cpu-box')).length ? assigns('cpu-box') : null), 'CPU job placed');
    await bus.publish('job.started', { jobId: assign.spec.jobId, runId: 'r1', symbol: 'EEEUSDT', attempt: 1, agentId: 'cpu-box', leaseId: assign.lease.leaseId, workDir: '/w' });
    await new Promise((r) => setTimeout(r, 200));
    await heartbeat('cpu-box', new Date(Date.now() + 1000).toISOString(), []);
    const lost = await waitFor(async () => (await readStored(prefix, 'lease.lost')).map((e) => e.data).find((d) => d.agentId === 'cpu-box' && d.jobId === 'r1-EEEUSDT'), 'lease.lost after restart');
    expect(lost).toMatchObject({ jobId: 'r1-EEEUSDT', reason: 'agent cpu-box restarted' });
  });

  it('packs a symbol by the GPU memory it used alone on a GPU, with headroom, once that is known', async () => {
    const box = 'gpu-learn';
    const used = (memoryUsedMb: number) => [{ ...gpu, memoryTotalMb: 80 * 1024, memoryUsedMb }];
    await heartbeat(box, startedAt, [], used(0));
    await bus.publish('job.requested', { spec: toJobSpec({ ...definition('GGGUSDT', 10), jobId: 'r1-GGGUSDT' }, 1) });
    const first = await waitFor(async () => (await assigns(box)).find((a) => a.spec.jobId === 'r1-GGGUSDT'), 'declared memory used at first');
    expect(first.lease.gpuMemoryGb).toBe(10);
    await bus.publish('job.started', { jobId: 'r1-GGGUSDT', runId: 'r1', symbol: 'GGGUSDT', attempt: 1, agentId: box, leaseId: first.lease.leaseId, workDir: '/w' });
    await waitFor(async () => (await app.get(BrokerStore).activeLeases(undefined, box)).some((l) => l.status === 'running'), 'lease running');
    await heartbeat(box, startedAt, [{ jobId: 'r1-GGGUSDT', attempt: 1, leaseId: first.lease.leaseId }], used(3 * 1024));
    const store = app.get(BrokerStore);
    await waitFor(async () => (await store.learnedMemory(store.manager, ['GGGUSDT'])).get('GGGUSDT') === 3, 'the memory learned from the heartbeat');
    await bus.publish('job.requested', { spec: toJobSpec({ ...definition('GGGUSDT', 10), jobId: 'r2-GGGUSDT', runId: 'r2' }, 1) });
    const second = await waitFor(async () => (await assigns(box)).find((a) => a.spec.jobId === 'r2-GGGUSDT'), 'the next run of the symbol placed');
    expect(second.lease.gpuMemoryGb).toBe(4); // 3 GB seen × 1.2, rounded up to half a GB
  });

  it('answers leases.active with the agents, the leases on them and their GPUs', async () => {
    const answer = await bus.query('leases.active', {});
    const learnBox = answer.agents.find((a) => a.agentId === 'gpu-learn');
    expect(learnBox).toMatchObject({ provider: 'local', status: 'alive', gpus: [{ index: 0, memoryUsedMb: 3 * 1024 }] });
    const onIt = answer.leases.filter((l) => l.agentId === 'gpu-learn');
    expect(onIt.map((l) => l.jobId)).toEqual(expect.arrayContaining(['r1-GGGUSDT', 'r2-GGGUSDT']));
    expect(onIt.find((l) => l.jobId === 'r2-GGGUSDT')).toMatchObject({ symbol: 'GGGUSDT', device: 'gpu:0', gpuMemoryGb: 4, status: 'assigned', startedAt: null });
    expect(answer.instances).toEqual([]);
  });

  it('rounds learned memory up with headroom and leaves CPU jobs and unknown symbols as declared', () => {
    expect(gpuMemoryNeed(10, undefined, 1.2)).toBe(10);
    expect(gpuMemoryNeed(0, 5, 1.2)).toBe(0);
    expect(gpuMemoryNeed(10, 3, 1.2)).toBe(4);
    expect(gpuMemoryNeed(2, 6, 1.2)).toBe(7.5);
  });

  it('cancels a request still waiting for a slot', async () => {
    await bus.publish('job.requested', { spec: toJobSpec({ ...definition('FFFUSDT', 500), jobId: 'r1-FFFUSDT' }, 1) });
    await new Promise((r) => setTimeout(r, 300));
    await bus.publish('job.cancel', { jobId: 'r1-FFFUSDT', reason: 'operator' });
    const cancelled = await waitFor(async () => (await readStored(prefix, 'job.cancelled')).map((e) => e.data).find((d) => d.jobId === 'r1-FFFUSDT'), 'job.cancelled');
    expect(cancelled).toMatchObject({ attempt: 1, reason: 'operator' });
  });

  it('places a burst of requests in a few coalesced passes, not one pass per request', async () => {
    const query = (sql: string, params: unknown[] = []) => app.get(BrokerStore).manager.query(sql, params);
    await bus.publish('agent.heartbeat', { agentId: 'burst-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 12, running: [], startedAt });
    await waitFor(async () => (await query(`SELECT 1 FROM broker.agents WHERE id = 'burst-box' AND status = 'alive'`)).length === 1, 'the burst box alive');
    const burst = Array.from({ length: 12 }, (_, i) => toJobSpec(testJobDefinition({ symbol: `BURST${i}USDT`, runId: 'burst', jobId: `burst-${i}`, resources: { gpuMemoryGb: 0, cpus: 1 } }), 1));
    await Promise.all(burst.map((spec) => bus.publish('job.requested', { spec })));
    const leases: Array<{ created_at: Date }> = await waitFor(async () => {
      const rows = await query(`SELECT created_at FROM broker.leases WHERE job_id LIKE 'burst-%'`);
      return rows.length === 12 ? rows : null;
    }, 'the burst placed');
    // A pass stamps its leases with one time: one pass per request would make twelve. How many passes
    // the burst takes depends on how the requests trickle in (the consumer takes 8 at a time, the tick
    // and heartbeats start passes too): 3 to 5 were seen, so the bound is half of twelve.
    expect(new Set(leases.map((l) => l.created_at.getTime())).size).toBeLessThanOrEqual(6);
  });

  it('reads again and places when another replica granted between its read and its grant', async () => {
    const store = app.get(BrokerStore);
    const read = store.dispatchState.bind(store);
    const grant = jest.spyOn(store, 'grant');
    let raced = false;
    const reads = jest.spyOn(store, 'dispatchState').mockImplementation(async () => {
      const state = await read();
      if (!raced && state.pending.some((p) => p.symbol === 'RACEUSDT')) {
        raced = true;
        // Another replica's grant, as it commits between this pass's read and its grant.
        await store.manager.query(`UPDATE broker.dispatch_epoch SET n = n + 1`);
      }
      return state;
    });
    try {
      await bus.publish('agent.heartbeat', { agentId: 'race-box', host: 'box', provider: 'local', gpus: [], cpuSlots: 1, running: [], startedAt });
      await waitFor(async () => (await store.manager.query(`SELECT 1 FROM broker.agents WHERE id = 'race-box' AND status = 'alive'`)).length === 1, 'the race box alive');
      await bus.publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: 'RACEUSDT', runId: 'race', resources: { gpuMemoryGb: 0, cpus: 1 } }), 1) });
      await waitFor(async () => (await readStored(prefix, 'job.leased')).some((e) => e.data.jobId === 'race-RACEUSDT'), 'the job leased after the lost grant');
      expect(raced).toBe(true);
      expect(await Promise.all(grant.mock.results.map((r) => r.value))).toContain(null);
    } finally {
      reads.mockRestore();
      grant.mockRestore();
    }
  });

  it("gives the next free slot to a production job that arrived after a study's search trials", async () => {
    const trial = (n: number) =>
      toJobSpec(testJobDefinition({ symbol: 'SRCHUSDT', runId: 'study-x', jobId: `study-x-t${n}`, priority: 'low', purpose: 'search', resources: { gpuMemoryGb: 0, cpus: 1 } }), 1);
    const daily = toJobSpec(
      testJobDefinition({ symbol: 'PRODUSDT', runId: 'daily-x', jobId: 'daily-x-PRODUSDT', priority: 'normal', purpose: 'production', resources: { gpuMemoryGb: 0, cpus: 1 } }),
      1,
    );
    const query = (sql: string) => app.get(BrokerStore).manager.query(sql);
    // The only live agent has one CPU slot; it stays alive (the spec's silence limit is 2 s) while the test waits.
    const alive = <T>(check: () => Promise<T>, what: string) => waitFor(async () => (await heartbeat('yield-box'), check()), what);
    const placedOn = async (jobId: string) => (await query(`SELECT agent_id FROM broker.leases WHERE job_id = '${jobId}'`))[0]?.agent_id as string | undefined;
    await alive(async () => (await query(`SELECT id FROM broker.agents WHERE status = 'alive'`)).map((a: { id: string }) => a.id).join() === 'yield-box', 'the box the only one alive');
    await bus.publish('job.requested', { spec: trial(0) });
    await alive(async () => (await placedOn('study-x-t0')) === 'yield-box', 'the first trial placed');
    await bus.publish('job.requested', { spec: trial(1) });
    await bus.publish('job.requested', { spec: trial(2) });
    await alive(async () => (await query(`SELECT count(*)::int AS n FROM broker.lease_requests WHERE job_id LIKE 'study-x-t%' AND status = 'pending'`))[0].n === 2, 'two trials queued');
    await bus.publish('job.requested', { spec: daily });
    await alive(async () => (await query(`SELECT 1 FROM broker.lease_requests WHERE job_id = 'daily-x-PRODUSDT'`)).length === 1, 'the production job queued');
    const [lease] = await query(`SELECT id FROM broker.leases WHERE job_id = 'study-x-t0'`);
    await bus.publish('job.failed', {
      jobId: 'study-x-t0',
      runId: 'study-x',
      symbol: 'SRCHUSDT',
      attempt: 1,
      agentId: 'yield-box',
      leaseId: lease.id,
      errorType: 'trainer_error',
      retryable: false,
      message: 'done with it',
    });
    await alive(async () => (await placedOn('daily-x-PRODUSDT')) === 'yield-box', 'the production job placed');
    expect(await placedOn('study-x-t1')).toBeUndefined();
    expect(await placedOn('study-x-t2')).toBeUndefined();
  });
});
