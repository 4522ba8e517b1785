import { DataSource } from 'typeorm';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, scrapeMetrics, seriesValue, startS3TestServer, TestService, waitFor, type S3TestServer } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(90_000);

const DAY_MS = 86_400_000;
const TOKEN = 'operator-token-for-the-specs-0001';

/** The wall clock moved forward by whole days, so the daily pass comes due without waiting for one. */
class MovedClock extends Clock {
  days = 0;
  override now(): Date {
    return new Date(Date.now() + this.days * DAY_MS);
  }
}

/**
 * Retention of the scheduler's records: the scheduler on real NATS, PostgreSQL and an S3-protocol
 * store, its clock moved forward day by day; the test plays the agents and the promoter.
 */
describe('record retention', () => {
  const clock = new MovedClock();
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'ret', listen: true, overrides: [{ provide: Clock, useValue: clock }] });
  const { prefix } = svc;
  let s3: S3TestServer;
  let bus: NatsBus;
  let ds: DataSource;
  let store: ArtifactStore;
  let base: string;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    const app = await svc.start({ ...s3.env, SCHEDULER_TICK_MS: '100', SCHEDULER_MAX_RETRIES: '0', SCHEDULER_RETENTION_AT: '00:00', API_OPERATOR_TOKENS: TOKEN });
    base = svc.url;
    bus = app.get(NatsBus);
    ds = app.get(DataSource);
    store = app.get(ARTIFACT_STORE);
  });

  afterAll(async () => {
    await svc.close();
    await s3?.close();
  });

  const today = () => clock.now().toISOString().slice(0, 10);
  const passOf = (day: string) =>
    waitFor(async () => (await ds.query(`SELECT report FROM scheduler.retention_passes WHERE day = $1 AND finished_at IS NOT NULL`, [day]))[0]?.report, `the retention pass of ${day}`);
  const jobRows = async (jobId: string) => (await ds.query(`SELECT count(*)::int AS n FROM scheduler.jobs WHERE id = $1`, [jobId]))[0].n as number;
  const attemptRows = async (jobId: string) => (await ds.query(`SELECT count(*)::int AS n FROM scheduler.attempts WHERE job_id = $1`, [jobId]))[0].n as number;
  const runRows = async (runId: string) => (await ds.query(`SELECT count(*)::int AS n FROM scheduler.runs WHERE id = $1`, [runId]))[0].n as number;
  const keys = async (under: string) => (await store.list(under)).map((o) => o.key);
  const metrics = { directionalHitRate: 0.56, sharpe: 1.3, maxDrawdown: 0.1, totalReturn: 0.04, mae: 0.01, rmse: 0.02, mape: 1.1, r2: 0.05 };

  /** What an agent leaves in the store for one attempt: a model, metrics, a checkpoint, its log. */
  async function writeAttempt(folder: string): Promise<number> {
    let bytes = 0;
    for (const [name, size] of [
      ['model.bin', 4096],
      ['metrics.json', 300],
      ['checkpoints/epoch-1.pt', 8192],
      ['attempt.log', 2000],
    ] as const) {
      bytes += (await store.put(`${folder}/${name}`, Buffer.alloc(size, 7))).bytes;
    }
    return bytes;
  }

  async function train(runId: string, symbol: string, outcome: 'succeeded' | 'failed'): Promise<string> {
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: [symbol] });
    const jobId = `${runId}-${symbol}`;
    await waitFor(async () => (await readStored(prefix, 'job.requested')).some((e) => e.data.spec.jobId === jobId), `${jobId} requested`);
    const folder = `models/${symbol}/${runId}`;
    await writeAttempt(folder);
    const ref = { jobId, runId, symbol, attempt: 1 };
    await bus.publish('job.started', { ...ref, agentId: 'a1', leaseId: `${jobId}-lease`, workDir: '/w', artifactsPrefix: folder });
    await waitFor(async () => (await ds.query(`SELECT artifacts_prefix FROM scheduler.attempts WHERE job_id = $1`, [jobId]))[0]?.artifacts_prefix === folder, `${jobId} started`);
    const at = clock.now().toISOString();
    if (outcome === 'succeeded') {
      await bus.publish('job.succeeded', {
        ...ref,
        agentId: 'a1',
        leaseId: `${jobId}-lease`,
        date: '2026-11-01',
        featureset: 'fs1',
        costs: { feeBps: 10, spreadBps: 2 },
        artifactsPrefix: folder,
        artifacts: [{ name: 'model.bin', uri: store.uri(`${folder}/model.bin`), sha256: 'e'.repeat(64), bytes: 4096 }],
        metrics,
        evaluationWindow: { from: at, to: at, candles: 10 },
        trainSeconds: 1,
        startedAt: at,
        finishedAt: at,
      });
    } else {
      await bus.publish('job.failed', { ...ref, errorType: 'bad_data', retryable: false, message: 'gap in candles' });
    }
    await waitFor(async () => (await readStored(prefix, 'run.completed')).some((e) => e.data.runId === runId), `${runId} completed`);
    return jobId;
  }

  it("runs daily on its own and deletes logs after 7 days, failed and dry-run jobs after 30, succeeded after 90, never a production model's job", async () => {
    // The pass of the day the scheduler started, on an empty store.
    expect(await passOf(today())).toMatchObject({ rows: { jobs: 0 }, bytesFreed: 0 });

    const prod = await train('ret-prod', 'BTCUSDT', 'succeeded');
    await bus.publish('model.promoted', {
      symbol: 'BTCUSDT',
      version: 1,
      runId: 'ret-prod',
      jobId: prod,
      metrics,
      productionMetrics: null,
      decision: { outcome: 'promote', rule: 'no_production', mode: 'auto', applied: true, reason: 'first' },
      productionUri: 'file:///p',
    });
    const ok = await train('ret-ok', 'ETHUSDT', 'succeeded');
    const failed = await train('ret-fail', 'SOLUSDT', 'failed');
    await bus.publish('run.requested', { runId: 'ret-dry', trigger: 'api', symbols: ['XRPUSDT'], dryRun: true });
    await waitFor(async () => (await ds.query(`SELECT status FROM scheduler.jobs WHERE run_id = 'ret-dry'`))[0]?.status === 'planned', 'the dry run planned');
    await waitFor(async () => (await ds.query(`SELECT in_production FROM scheduler.attempts WHERE job_id = $1`, [prod]))[0].in_production, 'the production job marked');

    // Day 8: logs are past their 7 days; the production model's log stays.
    clock.days = 8;
    const day8 = await passOf(today());
    expect(day8).toMatchObject({ logsDeleted: 2, objectsDeleted: 2, bytesFreed: 4000, rows: { jobs: 0, attempts: 0, runs: 0 } });
    expect(await keys('models/ETHUSDT/ret-ok/attempt.log')).toEqual([]);
    expect(await keys('models/SOLUSDT/ret-fail/attempt.log')).toEqual([]);
    expect(await keys('models/BTCUSDT/ret-prod/attempt.log')).toEqual(['models/BTCUSDT/ret-prod/attempt.log']);
    // A day's pass runs once, however often the scheduler checks.
    expect((await ds.query(`SELECT count(*)::int AS n FROM scheduler.retention_passes`))[0].n).toBe(2);

    // Day 31: the failed job goes with its attempts and its files, the dry run with its plan.
    clock.days = 31;
    const day31 = await passOf(today());
    expect(day31.rows).toMatchObject({ jobs: 2, attempts: 1, runs: 2 });
    expect(await jobRows(failed)).toBe(0);
    expect(await attemptRows(failed)).toBe(0);
    expect(await runRows('ret-fail')).toBe(0);
    expect(await runRows('ret-dry')).toBe(0);
    expect(await keys('models/SOLUSDT/')).toEqual([]);
    expect(await keys('runs/ret-fail/')).toEqual([]);
    expect(await jobRows(ok)).toBe(1);
    expect(await keys('models/ETHUSDT/ret-ok/')).toEqual(['models/ETHUSDT/ret-ok/checkpoints/epoch-1.pt', 'models/ETHUSDT/ret-ok/metrics.json', 'models/ETHUSDT/ret-ok/model.bin']);

    // Day 91: the succeeded job's rows go; its model's files are the promoter's to keep or prune.
    clock.days = 91;
    const day91 = await passOf(today());
    expect(day91.rows).toMatchObject({ jobs: 1, attempts: 1, runs: 1 });
    expect(await jobRows(ok)).toBe(0);
    expect(await attemptRows(ok)).toBe(0);
    expect(await runRows('ret-ok')).toBe(0);
    expect(await keys('models/ETHUSDT/ret-ok/')).toHaveLength(3);
    expect((await ds.query(`SELECT count(*)::int AS n FROM scheduler.ledger WHERE job_id = $1`, [ok]))[0].n).toBe(0);

    // The production model's job is never deleted, at any age.
    clock.days = 400;
    await passOf(today());
    expect(await jobRows(prod)).toBe(1);
    expect(await attemptRows(prod)).toBe(1);
    expect(await runRows('ret-prod')).toBe(1);
    expect(await keys('models/BTCUSDT/ret-prod/')).toHaveLength(4);

    const text = await scrapeMetrics(base);
    const freed = [day8, day31, day91].reduce((s, r) => s + r.bytesFreed, 0);
    expect(seriesValue(text, 'trainyard_retention_freed_bytes_total')).toBe(freed);
    expect(seriesValue(text, 'trainyard_retention_deleted_rows_total', { table: 'jobs' })).toBe(3);
    const passes = (await (await fetch(`${base}/retention/passes`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as unknown[];
    expect(passes[0]).toMatchObject({ day: today(), report: { rows: { jobs: 0 } } });
  });

  it('refuses to delete outside an attempt folder whatever prefix an agent reported', async () => {
    await store.put('models/production/EVILUSDT/model.bin', 'production weights');
    await bus.publish('run.requested', { runId: 'ret-evil', trigger: 'api', symbols: ['EVILUSDT'] });
    const jobId = 'ret-evil-EVILUSDT';
    await waitFor(async () => (await readStored(prefix, 'job.requested')).some((e) => e.data.spec.jobId === jobId), `${jobId} requested`);
    await bus.publish('job.started', { jobId, runId: 'ret-evil', symbol: 'EVILUSDT', attempt: 1, agentId: 'a1', leaseId: 'l', workDir: '/w', artifactsPrefix: 'models/production/EVILUSDT' });
    await bus.publish('job.failed', { jobId, runId: 'ret-evil', symbol: 'EVILUSDT', attempt: 1, errorType: 'bad_data', retryable: false, message: 'x' });
    await waitFor(async () => (await readStored(prefix, 'run.completed')).some((e) => e.data.runId === 'ret-evil'), 'ret-evil completed');
    clock.days += 40;
    // The daily pass may take the job on its own tick before this one does: either pass deletes it.
    const res = await fetch(`${base}/retention/run`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    await waitFor(async () => (await jobRows(jobId)) === 0, 'the failed job deleted by retention');
    expect(await keys('models/production/EVILUSDT/')).toEqual(['models/production/EVILUSDT/model.bin']);
  });
});
