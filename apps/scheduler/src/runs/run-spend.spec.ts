import type { INestApplication } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventInput, EventMessage } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { RunSpendService } from './run-spend.service';

jest.setTimeout(60_000);

/**
 * Spend beside work: the broker's instance.destroyed (what the account paid for an instance, split
 * among the runs that used it) reaches the run's REST view, its summary and the runs.costs query,
 * each instance once. The test plays the broker and the agents; NATS and PostgreSQL are real.
 */
describe('scheduler: instance spend beside work cost', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'spend', listen: true });
  const { prefix, dir: artifacts } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let base: string;
  let nextInstance = 1000;

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '100', API_READ_TOKENS: 'read-only-token-for-the-specs-0001' });
    base = svc.url;
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  const getRun = async (id: string) => {
    const res = await fetch(`${base}/runs/${id}`, { headers: { authorization: 'Bearer read-only-token-for-the-specs-0001' } });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** instance.destroyed as the broker publishes it: id `<row>-destroyed`, the whole cost and its shares. */
  const destroyed = (label: string, cost: number, runs: { runId: string; cost: number }[]): EventInput<'instance.destroyed'> => ({
    instanceId: nextInstance++,
    label,
    gpuName: 'RTX 4090',
    numGpus: 1,
    pricePerHour: 0.4,
    interruptible: false,
    reason: 'run_completed',
    detail: 'the run completed',
    seconds: 3600,
    cost,
    compute: cost * 0.9,
    storage: cost * 0.1,
    runs,
  });
  const RUN = 'spent-run';
  const JOB = `${RUN}-BTCUSDT`;
  let first: EventMessage<'instance.destroyed'>;

  it('charges a run its share of each destroyed instance, once however often the message comes', async () => {
    await bus.publish('run.requested', { runId: RUN, trigger: 'api', symbols: ['BTCUSDT'] });
    await waitFor(async () => (await readStored(prefix, 'job.requested')).some((e) => e.data.spec.jobId === JOB), 'the job requested');
    expect((await getRun(RUN)).body).toMatchObject({ status: 'running', cost: 0, spend: 0, summary: null });

    first = await bus.publish('instance.destroyed', destroyed('trainyard-a', 0.3, [{ runId: RUN, cost: 0.3 }]), { id: 'row-a-destroyed' });
    await waitFor(async () => (await getRun(RUN)).body.spend === 0.3, 'the first share counted');

    // The same message again (JetStream drops it as a duplicate), the broker republishing it under
    // another id after a crash, then an instance shared with another run.
    await bus.publish('instance.destroyed', destroyed('trainyard-a', 0.3, [{ runId: RUN, cost: 0.3 }]), { id: 'row-a-destroyed' });
    await bus.publish('instance.destroyed', destroyed('trainyard-a', 0.3, [{ runId: RUN, cost: 0.3 }]), { id: 'row-a-destroyed-again' });
    await bus.publish(
      'instance.destroyed',
      destroyed('trainyard-b', 0.5, [
        { runId: RUN, cost: 0.2 },
        { runId: 'someone-else', cost: 0.3 },
      ]),
      { id: 'row-b-destroyed' },
    );
    // Handled in stream order: once b counts, the repeats of a have been handled.
    await waitFor(async () => (await getRun(RUN)).body.spend !== 0.3, 'the second share counted');
    expect((await getRun(RUN)).body).toMatchObject({ spend: 0.5, cost: 0 });

    // A redelivery, as JetStream brings one when an ack is lost: the very message handled again.
    await app.get(RunSpendService).destroyed(first);
    expect((await getRun(RUN)).body.spend).toBe(0.5);
    expect((await bus.query('runs.find', { id: RUN })).run).toMatchObject({ runId: RUN, cost: 0, spend: 0.5 });
    expect((await bus.query('runs.active', {})).runs).toEqual([expect.objectContaining({ runId: RUN, spend: 0.5 })]);
  });

  it('puts the spend known at completion in the summary, and adds the instances destroyed after', async () => {
    const leasedAt = new Date();
    await bus.publish('job.leased', {
      jobId: JOB,
      runId: RUN,
      attempt: 1,
      lease: {
        leaseId: 'lease-1',
        agentId: 'vast-1',
        provider: 'vast',
        device: 'gpu:0',
        gpuMemoryGb: 24,
        pricePerHour: 0.6,
        startedAt: leasedAt.toISOString(),
        endsBy: new Date(leasedAt.getTime() + 3_600_000).toISOString(),
      },
    });
    await waitFor(async () => (await getRun(RUN)).body.jobCounts.leased === 1, 'the job leased');
    // Half an hour at $0.60: $0.30 of work.
    const startedAt = new Date(leasedAt.getTime() - 1_800_000).toISOString();
    await bus.publish('job.succeeded', {
      jobId: JOB,
      runId: RUN,
      symbol: 'BTCUSDT',
      attempt: 1,
      agentId: 'vast-1',
      leaseId: 'lease-1',
      date: '2026-11-01',
      featureset: 'fs1',
      costs: { feeBps: 10, spreadBps: 2 },
      artifactsPrefix: 'models/BTCUSDT/20261102_000000Z',
      artifacts: [{ name: 'model.bin', uri: 'file:///m', sha256: 'b'.repeat(64), bytes: 1 }],
      metrics: { directionalHitRate: 0.55, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 },
      evaluationWindow: { from: startedAt, to: startedAt, candles: 100 },
      trainSeconds: 1800,
      startedAt,
      finishedAt: leasedAt.toISOString(),
    });
    const completed = await waitFor(async () => (await readStored(prefix, 'run.completed')).find((e) => e.data.runId === RUN)?.data, 'run.completed');
    expect(completed.summary).toMatchObject({ succeeded: 1, cost: 0.3, spend: 0.5 });
    const summaryFile = join(artifacts, 'runs', RUN, 'engine_summary.json');
    await waitFor(async () => (await getRun(RUN)).body.completionPublished, 'the completion recorded');
    expect(JSON.parse(readFileSync(summaryFile, 'utf8'))).toMatchObject({ run_id: RUN, cost: 0.3, spend: 0.5 });

    // The instance idles on after the run and goes later: its cost reaches the stored summary and its artifact.
    await bus.publish('instance.destroyed', destroyed('trainyard-c', 0.25, [{ runId: RUN, cost: 0.25 }]), { id: 'row-c-destroyed' });
    const after = await waitFor(async () => {
      const r = (await getRun(RUN)).body;
      return r.summary?.spend === 0.75 ? r : null;
    }, 'the summary updated');
    expect(after).toMatchObject({ status: 'succeeded', cost: 0.3, spend: 0.75, summary: { cost: 0.3, spend: 0.75, succeeded: 1 } });
    expect(JSON.parse(readFileSync(summaryFile, 'utf8'))).toMatchObject({ run_id: RUN, status: 'succeeded', cost: 0.3, spend: 0.75 });

    // Republished under another id: counted once; a later instance for another run proves it was handled.
    await bus.publish('instance.destroyed', destroyed('trainyard-c', 0.25, [{ runId: RUN, cost: 0.25 }]), { id: 'row-c-destroyed-again' });
    await bus.publish('instance.destroyed', destroyed('trainyard-d', 0.1, [{ runId: 'marker-run', cost: 0.1 }]), { id: 'row-d-destroyed' });
    await waitFor(async () => (await bus.query('runs.costs', {})).today.instances === 4, 'the marker instance counted');
    expect((await getRun(RUN)).body).toMatchObject({ spend: 0.75, summary: { spend: 0.75 } });
    // The run.completed already on the bus keeps what was known then; no second one is sent.
    expect((await readStored(prefix, 'run.completed')).filter((e) => e.data.runId === RUN)).toHaveLength(1);
  });

  it('reports spend for today and this week beside the work, with instances no run used', async () => {
    await bus.publish('instance.destroyed', { ...destroyed('trainyard-orphan', 0.15, []), reason: 'orphan' }, { id: 'row-e-destroyed' });
    // Destroyed eight days ago: in neither window.
    await bus.publish('instance.destroyed', destroyed('trainyard-old', 9, [{ runId: 'old-run', cost: 9 }]), { id: 'row-f-destroyed', occurredAt: new Date(Date.now() - 8 * 86_400_000) });
    const costs = await waitFor(async () => {
      const c = await bus.query('runs.costs', {});
      return c.today.instances === 5 ? c : null;
    }, 'the orphan counted');
    // a 0.3 + b 0.5 + c 0.25 + d 0.1 + the orphan 0.15: every instance's whole cost, used or not.
    expect(costs.today).toMatchObject({ cost: 0.3, jobs: 1, runs: 1, spend: 1.3, instances: 5 });
    expect(costs.week).toMatchObject({ cost: 0.3, spend: 1.3, instances: 5 });
    expect((await getRun('no-such-run')).status).toBe(404);
  });

  it('documents cost and spend in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as any;
    const schema = doc.paths['/runs/{id}'].get.responses['200'].content['application/json'].schema;
    expect(schema.properties.cost.description).toMatch(/^work cost/);
    expect(schema.properties.spend.description).toMatch(/^spend: .*GPU provider billed/);
    expect(JSON.stringify(schema.properties.summary)).toMatch(/"spend"/);
  });
});
