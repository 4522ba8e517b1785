import type { INestApplication } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { readStored, scrapeMetrics, seriesValue, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { StatsController } from '../api/stats.controller';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(60_000);

/** The scheduler's /metrics while the test plays the broker and the agent through a small run. */
describe('scheduler metrics', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'smet', listen: true });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let base: string;

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '100', SCHEDULER_RETRY_BASE_SECONDS: '0.2' });
    base = svc.url;
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  const metric = async (name: string, labels: Record<string, string> = {}) => seriesValue(await scrapeMetrics(base), name, labels);
  const requested = async (runId: string) => (await readStored(prefix, 'job.requested')).map((e) => e.data.spec).filter((s) => s.runId === runId);
  const ref = (spec: { jobId: string; runId: string; symbol: string; attempt: number }) => ({ jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt });
  const start = (spec: { jobId: string; runId: string; symbol: string; attempt: number }) =>
    bus.publish('job.started', { ...ref(spec), agentId: 'a1', leaseId: `${spec.jobId}-l${spec.attempt}`, workDir: '/tmp/w' });
  const succeed = (spec: { jobId: string; runId: string; symbol: string; attempt: number }) => {
    const now = new Date().toISOString();
    return bus.publish('job.succeeded', {
      ...ref(spec),
      agentId: 'a1',
      leaseId: `${spec.jobId}-l${spec.attempt}`,
      date: '2026-11-01',
      featureset: 'fs1',
      costs: { feeBps: 10, spreadBps: 2 },
      artifactsPrefix: `models/${spec.symbol}/x`,
      artifacts: [{ name: 'model.bin', uri: 'file:///m', sha256: 'e'.repeat(64), bytes: 1 }],
      metrics: { directionalHitRate: 0.5, sharpe: 0, maxDrawdown: 0, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
      evaluationWindow: { from: now, to: now, candles: 10 },
      trainSeconds: 1,
      startedAt: now,
      finishedAt: now,
    });
  };

  it('exposes jobs by state, queue depth, dispatch latency, durations and retries, and they move with a run', async () => {
    expect(await metric('trainyard_jobs', { state: 'succeeded' })).toBe(0);
    expect(await metric('trainyard_dispatch_latency_seconds_count')).toBe(0);
    expect(await metric('trainyard_queue_depth', { priority: 'normal' })).toBe(0);

    await bus.publish('run.requested', { runId: 'metrics-run', trigger: 'api', date: '2026-11-01', symbols: ['BTCUSDT', 'ETHUSDT'], maxConcurrent: 1, priority: 'high' });
    const [first] = await waitFor(async () => {
      const r = await requested('metrics-run');
      return r.length === 1 ? r : null;
    }, 'the first release');
    // One slot: one job released, the other waiting to be.
    expect(await metric('trainyard_jobs', { state: 'released' })).toBe(1);
    expect(await metric('trainyard_jobs', { state: 'pending' })).toBe(1);
    expect(await metric('trainyard_queue_depth', { priority: 'high' })).toBe(1);
    expect(await metric('trainyard_runs', { state: 'running' })).toBe(1);

    await start(first);
    await waitFor(async () => (await metric('trainyard_dispatch_latency_seconds_count', { priority: 'high' })) === 1, 'the first dispatch observed');
    await bus.publish('job.failed', { ...ref(first), errorType: 'oom', retryable: true, message: 'CUDA out of memory' });
    await waitFor(async () => (await metric('trainyard_job_retries_total', { error_type: 'oom' })) === 1, 'the retry counted');
    expect(await metric('trainyard_job_duration_seconds_count', { outcome: 'failed' })).toBe(1);

    // The retry and the second symbol are released; each starts and succeeds.
    const done = new Set<string>();
    await waitFor(
      async () => {
        for (const spec of await requested('metrics-run')) {
          const key = `${spec.jobId}#${spec.attempt}`;
          if (key === `${first.jobId}#1` || done.has(key)) continue;
          done.add(key);
          await start(spec);
          await waitFor(async () => (await metric('trainyard_jobs', { state: 'running' })) === 1, `${key} running`);
          await succeed(spec);
        }
        return done.size === 2;
      },
      'both remaining attempts run',
      30_000,
      200,
    );
    await waitFor(async () => (await readStored(prefix, 'run.completed')).some((e) => e.data.runId === 'metrics-run'), 'the run completed');

    const text = await scrapeMetrics(base);
    expect(seriesValue(text, 'trainyard_jobs', { state: 'succeeded' })).toBe(2);
    expect(seriesValue(text, 'trainyard_jobs', { state: 'pending' })).toBe(0);
    expect(seriesValue(text, 'trainyard_runs', { state: 'succeeded' })).toBe(1);
    expect(seriesValue(text, 'trainyard_queue_depth', { priority: 'high' })).toBe(0);
    expect(seriesValue(text, 'trainyard_dispatch_latency_seconds_count', { priority: 'high' })).toBe(3);
    expect(seriesValue(text, 'trainyard_dispatch_latency_seconds_bucket', { priority: 'high', le: '+Inf' })).toBe(3);
    expect(seriesValue(text, 'trainyard_job_duration_seconds_count', { outcome: 'succeeded' })).toBe(2);
    expect(seriesValue(text, 'trainyard_job_retries_total', { error_type: 'oom' })).toBe(1);
    expect(text).toMatch(/^process_resident_memory_bytes\{service="scheduler"\} /m);
  });

  it("counts a dry run's jobs as planned, never as pending, in trainyard_jobs and /stats", async () => {
    await bus.publish('run.requested', { runId: 'metrics-dry', trigger: 'api', date: '2026-11-02', symbols: ['AAAUSDT', 'BBBUSDT', 'CCCUSDT'], dryRun: true });
    await waitFor(async () => (await readStored(prefix, 'run.planned')).some((e) => e.data.runId === 'metrics-dry'), 'the plan');
    const text = await scrapeMetrics(base);
    expect(seriesValue(text, 'trainyard_jobs', { state: 'planned' })).toBe(3);
    expect(seriesValue(text, 'trainyard_jobs', { state: 'pending' })).toBe(0);
    // What GET /stats answers.
    const stats = await app.get(StatsController).stats({ days: 365 });
    expect(stats.jobsByStatus.planned).toBe(3);
    expect(stats.jobsByStatus.pending).toBeUndefined();
  });

  it('counts a malformed message it dead-letters', async () => {
    await bus.publishRaw(bus.subject('job.succeeded'), '{"jobId": "half a message"', 'smet-malformed');
    await waitFor(async () => (await metric('trainyard_dead_lettered_messages_total', { subject: 'job.succeeded' })) === 1, 'the dead letter counted');
  });
});
