import type { INestApplication } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { readStored, startMlflowTestServer, TestService, waitFor, type MlflowTestServer } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';
import { MlflowMirrorService } from './mlflow-mirror.service';

jest.setTimeout(60_000);

/** Tracked runs mirrored to an MLflow tracking server (the REST stand-in, with a token), from the scheduler on real NATS and PostgreSQL. */
describe('mirroring tracked runs to MLflow', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'mlflow' });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let mlflow: MlflowTestServer;

  beforeAll(async () => {
    mlflow = await startMlflowTestServer({ token: 'mlflow-token-for-the-specs', duplicateMetrics: 'append' });
    app = await svc.start({
      SCHEDULER_TICK_MS: '100',
      SCHEDULER_MAX_RETRIES: '0',
      MLFLOW_TRACKING_URI: mlflow.url,
      MLFLOW_TRACKING_TOKEN: 'mlflow-token-for-the-specs',
      MLFLOW_SYNC_INTERVAL_MS: '200',
      MLFLOW_SETTLE_SECONDS: '0',
    });
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await svc.close();
    await mlflow?.stop();
  });

  const metrics = { directionalHitRate: 0.56, sharpe: 1.3, maxDrawdown: 0.1, totalReturn: 0.04, mae: 0.01, rmse: 0.02, mape: 1.1, r2: 0.05 };
  const point = (step: number) => ({ step, at: new Date(Date.UTC(2026, 10, 30, 12, 0, step)).toISOString(), values: { loss: 1 / step, validationMetric: 0.5 + step / 100 } });

  it('logs each finished run once, with its params, tags, every metric step with its time, and status, through MLflow being away for a while', async () => {
    // MLflow answers 503 to the first requests: the mirror waits and tries again on a later pass.
    mlflow.failNext(12, 503);
    await bus.publish('run.requested', { runId: 'ml-a', trigger: 'api', symbols: ['BTCUSDT'] });
    const spec = await waitFor(async () => (await readStored(prefix, 'job.requested')).find((e) => e.data.spec.jobId === 'ml-a-BTCUSDT')?.data.spec, 'requested');
    const ref = { jobId: spec.jobId, runId: 'ml-a', symbol: 'BTCUSDT', attempt: 1 };
    await bus.publish('job.started', { ...ref, agentId: 'a1', leaseId: 'ml-a-BTCUSDT-a1-lease', workDir: '/w', artifactsPrefix: 'models/BTCUSDT/ml-a', codeVersion: 'builtin@0.1.0' });
    await bus.publish('job.progress', { ...ref, percent: 50, points: [1, 2, 3, 4, 5].map(point) });
    await bus.publish('job.succeeded', {
      ...ref,
      agentId: 'a1',
      leaseId: 'ml-a-BTCUSDT-a1-lease',
      date: spec.date,
      featureset: 'fs1',
      costs: spec.costs,
      artifactsPrefix: 'models/BTCUSDT/ml-a',
      artifacts: [{ name: 'model.json', uri: 'file:///x/model.json', sha256: 'b'.repeat(64), bytes: 12 }],
      metrics,
      evaluationWindow: { from: '2026-11-01T00:00:00Z', to: '2026-11-30T00:00:00Z', candles: 100 },
      trainSeconds: 3,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    });
    const run = await waitFor(() => mlflow.runs().find((r) => r.tags['trainyard.run_id'] === 'ml-a-BTCUSDT-a1' && r.status === 'FINISHED'), 'the run in MLflow', 40_000);
    expect(mlflow.experiments().map((e) => e.name)).toContain('BTCUSDT/production');
    expect(run.params).toMatchObject({ 'data.featureset': 'fs1', 'driver.kind': 'builtin' });
    expect(run.tags).toMatchObject({ 'trainyard.code_version': 'builtin@0.1.0', 'trainyard.symbol': 'BTCUSDT' });
    expect(run.metrics.loss?.map((m) => [m.step, m.value, m.timestamp])).toEqual([1, 2, 3, 4, 5].map((s) => [s, 1 / s, Date.UTC(2026, 10, 30, 12, 0, s)]));
    expect(run.metrics['final.sharpe']?.map((m) => m.value)).toEqual([1.3]);
    expect(Object.keys(run.tags).some((k) => k.startsWith('trainyard.artifact.'))).toBe(true);
    expect(mlflow.requests.some((r) => r.status === 503)).toBe(true);

    // Passes after that send nothing more; a late point is sent alone.
    const mirror = app.get(MlflowMirrorService);
    await mirror.pass();
    expect(mlflow.runs().filter((r) => r.tags['trainyard.run_id'] === 'ml-a-BTCUSDT-a1')).toHaveLength(1);
    await bus.publish('job.progress', { ...ref, percent: 100, points: [point(6)] });
    await waitFor(() => mlflow.run(run.runId)?.metrics.loss?.length === 6, 'the late point mirrored');
    await mirror.pass();
    expect(mlflow.run(run.runId)?.metrics.loss?.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
