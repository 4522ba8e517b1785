import type { INestApplication } from '@nestjs/common';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { NatsBus } from '@trainyard/messaging';
import { exportToFileStore, type TrackedRun } from '@trainyard/tracking';
import { readStored, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(60_000);

const TOKEN = 'operator-token-for-the-specs-0001';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Every attempt a tracked run: the scheduler on real NATS and PostgreSQL; the test plays broker and agents. */
describe('experiment tracking', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'track', listen: true });
  const { prefix, dir: artifacts } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let base: string;

  beforeAll(async () => {
    app = await svc.start({ SCHEDULER_TICK_MS: '100', SCHEDULER_MAX_RETRIES: '0', API_OPERATOR_TOKENS: TOKEN });
    base = svc.url;
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: res.headers.get('content-type')?.startsWith('image/') ? Buffer.from(await res.arrayBuffer()) : ((await res.json()) as any),
    };
  };
  const requested = (jobId: string) => waitFor(async () => (await readStored(prefix, 'job.requested')).find((e) => e.data.spec.jobId === jobId)?.data.spec, `${jobId} requested`);
  const points = (from: number, to: number, loss: (s: number) => number) =>
    Array.from({ length: to - from + 1 }, (_, i) => ({
      step: from + i,
      at: new Date(Date.UTC(2026, 10, 30, 12, 0, from + i)).toISOString(),
      values: { loss: loss(from + i), validationMetric: 0.5 + (from + i) / 100 },
    }));
  const metrics = { directionalHitRate: 0.56, sharpe: 1.3, maxDrawdown: 0.1, totalReturn: 0.04, mae: 0.01, rmse: 0.02, mape: 1.1, r2: 0.05 };

  it('records params, code version, every metric step once, final metrics, artifacts and the log of each attempt, and compares runs', async () => {
    await bus.publish('run.requested', { runId: 'tr-a', trigger: 'api', symbols: ['BTCUSDT'], featureset: 'fs1' });
    await bus.publish('run.requested', { runId: 'tr-b', trigger: 'api', symbols: ['BTCUSDT'], featureset: 'fs2' });
    const a = await requested('tr-a-BTCUSDT');
    const b = await requested('tr-b-BTCUSDT');
    const ref = (s: { jobId: string; runId: string }) => ({ jobId: s.jobId, runId: s.runId, symbol: 'BTCUSDT', attempt: 1 });
    for (const s of [a, b])
      await bus.publish('job.started', { ...ref(s), agentId: 'a1', leaseId: `${s.jobId}-a1-lease`, workDir: '/w', artifactsPrefix: `models/BTCUSDT/${s.runId}`, codeVersion: 'builtin@0.1.0' });
    // Outcomes after the starts, as an agent sends them (the bus does not order two subjects).
    for (const s of [a, b]) await waitFor(async () => (await get(`/experiments/runs/${s.jobId}-a1`)).body.attemptStatus === 'running', `${s.jobId} started`);
    // Out of order and redelivered, as a bus delivers: each (metric, step) is stored once.
    await bus.publish('job.progress', { ...ref(a), percent: 60, points: points(4, 6, (s) => 1 / s) });
    await bus.publish('job.progress', { ...ref(a), percent: 30, points: points(1, 3, (s) => 1 / s) });
    await bus.publish('job.progress', { ...ref(a), percent: 30, points: points(1, 3, (s) => 1 / s) });
    await bus.publish('job.progress', { ...ref(b), percent: 50, points: points(1, 6, (s) => 2 / s) });
    await bus.publish('job.succeeded', {
      ...ref(a),
      agentId: 'a1',
      leaseId: `${a.jobId}-a1-lease`,
      date: a.date,
      featureset: 'fs1',
      costs: a.costs,
      artifactsPrefix: 'models/BTCUSDT/tr-a',
      artifacts: [{ name: 'model.json', uri: 'file:///x/model.json', sha256: 'a'.repeat(64), bytes: 10 }],
      metrics,
      evaluationWindow: { from: '2026-11-01T00:00:00Z', to: '2026-11-30T00:00:00Z', candles: 100 },
      trainSeconds: 3,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    });
    await bus.publish('job.failed', { ...ref(b), agentId: 'a1', leaseId: `${b.jobId}-a1-lease`, errorType: 'trainer_error', retryable: false, message: 'diverged' });

    const run = await waitFor(async () => {
      const r = await get('/experiments/runs/tr-a-BTCUSDT-a1');
      return r.body.status === 'finished' && r.body.metrics && r.body.metricKeys?.length === 2 ? r.body : null;
    }, 'run a tracked as finished');
    expect(run).toMatchObject({
      id: 'tr-a-BTCUSDT-a1',
      experiment: 'BTCUSDT/production',
      codeVersion: 'builtin@0.1.0',
      metrics,
      metricKeys: ['loss', 'validationMetric'],
      params: expect.objectContaining({ 'data.featureset': 'fs1', 'data.timeframe': '1h', 'driver.kind': 'builtin', 'model.type': expect.any(String) }),
      tags: expect.objectContaining({ 'trainyard.run_id': 'tr-a-BTCUSDT-a1', 'trainyard.symbol': 'BTCUSDT', 'trainyard.code_version': 'builtin@0.1.0' }),
      artifacts: [{ name: 'model.json', key: 'models/BTCUSDT/tr-a/model.json', uri: 'file:///x/model.json', sha256: 'a'.repeat(64), bytes: 10 }],
      logKey: 'models/BTCUSDT/tr-a/attempt.log',
    });
    const loss = await waitFor(async () => {
      const s = (await get('/experiments/runs/tr-a-BTCUSDT-a1/metrics/loss')).body;
      return s.points.length === 6 ? s : null;
    }, 'six loss points');
    expect(loss.points.map((p: { step: number; value: number }) => [p.step, p.value])).toEqual([1, 2, 3, 4, 5, 6].map((s) => [s, 1 / s]));
    await waitFor(async () => (await get('/experiments/runs/tr-b-BTCUSDT-a1')).body.status === 'failed', 'run b failed');
    await waitFor(async () => (await get('/experiments/runs/tr-b-BTCUSDT-a1/metrics/loss')).body.points.length === 6, "run b's points stored");

    const listed = (await get('/experiments/runs?symbol=BTCUSDT&status=finished')).body;
    expect(listed.runs.map((r: { id: string }) => r.id)).toEqual(['tr-a-BTCUSDT-a1']);
    expect((await get('/experiments')).body).toEqual([expect.objectContaining({ experiment: 'BTCUSDT/production', symbol: 'BTCUSDT', purpose: 'production', studyId: null, runs: 2 })]);

    const compared = (await get('/experiments/compare?runs=tr-a-BTCUSDT-a1,tr-b-BTCUSDT-a1&metric=loss')).body;
    expect(compared.differingParams).toEqual({ 'data.featureset': ['fs1', 'fs2'] });
    expect(compared.metrics.sharpe).toEqual([1.3, null]);
    expect(compared.series.runs.map((r: { points: unknown[] }) => r.points.length)).toEqual([6, 6]);
    // As MLflow would hold it, and written to its file store as `trainyard experiments export --mlflow` does.
    const exported = (await get('/experiments/runs/tr-a-BTCUSDT-a1/export')).body as TrackedRun;
    expect(exported).toMatchObject({ runId: 'tr-a-BTCUSDT-a1', experimentName: 'BTCUSDT/production', status: 'finished', params: expect.objectContaining({ 'data.featureset': 'fs1' }) });
    expect(
      exported.metrics
        .filter((m) => m.key === 'loss')
        .map((m) => m.step)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    expect(exported.metrics.find((m) => m.key === 'final.sharpe')?.value).toBe(1.3);
    const store = mkdtempSync(join(tmpdir(), 'ty-mlruns-'));
    const written = await exportToFileStore(store, [{ name: exported.experimentName, runs: [exported] }], { storeRoot: true });
    const runDir = written.experiments[0]?.runs[0]?.dir;
    if (!runDir) throw new Error('the export wrote no run');
    expect(
      readFileSync(join(runDir, 'metrics', 'loss'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(6);
    expect(readFileSync(join(runDir, 'params', 'data.featureset'), 'utf8')).toBe('fs1');
    rmSync(store, { recursive: true, force: true });

    const chart = await get('/experiments/compare.png?runs=tr-a-BTCUSDT-a1,tr-b-BTCUSDT-a1&metric=loss');
    expect(chart.type).toBe('image/png');
    expect((chart.body as Buffer).subarray(0, 8)).toEqual(PNG);
  });

  it('refuses bad ids, queries and comparisons with a 4xx that names the problem', async () => {
    expect((await get('/experiments/runs/not-a-run')).status).toBe(400);
    expect((await get('/experiments/runs/nope-BTCUSDT-a1')).status).toBe(404);
    const one = await get('/experiments/compare?runs=tr-a-BTCUSDT-a1');
    expect(one.status).toBe(400);
    expect(JSON.stringify(one.body)).toMatch(/at least two runs/);
    expect((await get(`/experiments/compare?runs=${Array.from({ length: 11 }, (_, i) => `x-a${i}`).join(',')}`)).status).toBe(400);
    expect((await get('/experiments/runs?status=done')).status).toBe(400);
  });

  it('stores no points for an attempt the scheduler never made', async () => {
    await bus.publish('job.progress', { jobId: 'forged-BTCUSDT', runId: 'forged', symbol: 'BTCUSDT', attempt: 1, percent: 1, points: points(1, 2, () => 1) });
    await bus.publish('job.progress', { jobId: 'tr-a-BTCUSDT', runId: 'tr-a', symbol: 'BTCUSDT', attempt: 1, percent: 100, points: points(7, 7, () => 0.1) });
    await waitFor(async () => (await get('/experiments/runs/tr-a-BTCUSDT-a1/metrics/loss')).body.points.length === 7, 'the later point of a real attempt');
    const [{ n }] = await app.get(DataSource).query(`SELECT count(*)::int AS n FROM scheduler.metric_points WHERE job_id = 'forged-BTCUSDT'`);
    expect(n).toBe(0);
  });

  it("deletes logs and failed runs' data after their retention, never a production model's run", async () => {
    for (const run of ['tr-a', 'tr-b']) {
      mkdirSync(join(artifacts, 'models/BTCUSDT', run), { recursive: true });
      writeFileSync(join(artifacts, 'models/BTCUSDT', run, 'attempt.log'), 'log\n');
    }
    await bus.publish('model.promoted', {
      symbol: 'BTCUSDT',
      version: 1,
      runId: 'tr-a',
      jobId: 'tr-a-BTCUSDT',
      metrics,
      productionMetrics: null,
      decision: { outcome: 'promote', rule: 'no_production', mode: 'auto', applied: true, reason: 'first' },
      productionUri: 'file:///p',
    });
    const ds = app.get(DataSource);
    await waitFor(async () => (await ds.query(`SELECT in_production FROM scheduler.attempts WHERE job_id = 'tr-a-BTCUSDT'`))[0].in_production, 'run a marked as in production');
    await ds.query(`UPDATE scheduler.attempts SET finished_at = now() - interval '40 days' WHERE job_id IN ('tr-a-BTCUSDT', 'tr-b-BTCUSDT')`);
    const res = await fetch(`${base}/retention/run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await res.json()).toMatchObject({ logsDeleted: 1, failedRunsPurged: 1 });
    expect(existsSync(join(artifacts, 'models/BTCUSDT/tr-b/attempt.log'))).toBe(false);
    expect(existsSync(join(artifacts, 'models/BTCUSDT/tr-a/attempt.log'))).toBe(true);
    expect((await get('/experiments/runs/tr-b-BTCUSDT-a1')).status).toBe(404);
    expect((await get('/experiments/runs/tr-a-BTCUSDT-a1')).body).toMatchObject({
      inProduction: true,
      logKey: 'models/BTCUSDT/tr-a/attempt.log',
      tags: expect.objectContaining({ 'trainyard.production': 'true' }),
    });
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM scheduler.metric_points WHERE job_id = 'tr-b-BTCUSDT'`);
    expect(n).toBe(0);
    // The attempt's outcome stays with its job.
    expect((await ds.query(`SELECT status FROM scheduler.attempts WHERE job_id = 'tr-b-BTCUSDT'`))[0].status).toBe('failed');
  });
});
