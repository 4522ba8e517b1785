import type { INestApplication } from '@nestjs/common';
import { ACTIVE_JOB_STATES, trainingHash } from '@trainyard/contracts';
import { TestService } from '@trainyard/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../app.module';
import { JobTrainingHash1765700000000 } from '../migrations/1765700000000-job-training-hash';
import { schedulerEnv } from '../config/scheduler.config';
import { JobRepository } from './job.repository';
import { RunRepository } from './run.repository';
import { storedRun } from './stored-run.fixture';

jest.setTimeout(120_000);

/** job.leased, job.started and job.succeeded as single conditional statements, against PostgreSQL. */
describe('JobRepository attempt transitions', () => {
  const svc = new TestService({ env: schedulerEnv, module: AppModule.forRoot, prefix: 'jobtx', transport: false });
  let app: INestApplication;
  let jobs: JobRepository;

  beforeAll(async () => {
    app = await svc.start({});
    jobs = app.get(JobRepository);
  });

  afterAll(() => svc.close());

  /** A running run whose jobs are all released, each with its attempt row requested. */
  async function releasedRun(runId: string, symbols: string[]): Promise<string[]> {
    const { run, jobs: rows } = storedRun(runId, symbols, { status: 'running', jobStatus: 'pending', priority: 'high', maxConcurrent: symbols.length });
    await app.get(RunRepository).create(run, rows);
    const { jobs: released } = await jobs.claimReleasable(runId, new Date());
    expect(released).toHaveLength(symbols.length);
    return rows.map((r) => r.id);
  }

  const lease = (jobId: string, agentId = 'agent-1') => ({ leaseId: `${jobId}-a1-lease`, agentId, pricePerHour: 0.5 });
  // Started now: the app's reconciler would time out a job started hours ago while a test runs.
  const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const started = (jobId: string, agentId = 'agent-1', codeVersion: string | null = 'c0ffee') => ({
    startedAt,
    agentId,
    leaseId: `${jobId}-a1-lease`,
    artifactsPrefix: `${jobId}/a1`,
    codeVersion,
  });
  const attemptOf = async (jobId: string) => (await jobs.attempts(jobId))[0];

  it('moves a released job to leased, then running, with its attempt row, and reports the start once', async () => {
    const [id] = await releasedRun('tx-order', ['AAAUSDT']);
    await jobs.markLeased(id!, 1, lease(id!));
    expect(await jobs.find(id!)).toMatchObject({ status: 'leased', leaseId: `${id}-a1-lease`, agentId: 'agent-1', pricePerHour: 0.5 });
    expect(await attemptOf(id!)).toMatchObject({ status: 'leased', leaseId: `${id}-a1-lease`, agentId: 'agent-1' });
    const moved = await jobs.markStarted(id!, 1, started(id!));
    expect(moved).toMatchObject({ startedAt, definition: { priority: 'high' } });
    expect(moved?.releasedAt).toBeInstanceOf(Date);
    expect(await attemptOf(id!)).toMatchObject({ status: 'running', artifactsPrefix: `${id}/a1`, codeVersion: 'c0ffee' });
    // A repeated job.started moves nothing and reports nothing; a late job.leased changes nothing but the price.
    expect(await jobs.markStarted(id!, 1, started(id!))).toBeNull();
    await jobs.markLeased(id!, 1, { ...lease(id!), pricePerHour: 0.75 });
    expect(await jobs.find(id!)).toMatchObject({ status: 'running', pricePerHour: 0.75 });
    expect(await attemptOf(id!)).toMatchObject({ status: 'running' });
  });

  it('keeps a job running when its job.started overtook its job.leased, and still takes the lease price', async () => {
    const [id] = await releasedRun('tx-overtaken', ['BBBUSDT']);
    expect(await jobs.markStarted(id!, 1, started(id!))).not.toBeNull();
    await jobs.markLeased(id!, 1, lease(id!));
    expect(await jobs.find(id!)).toMatchObject({ status: 'running', pricePerHour: 0.5, startedAt });
    expect(await attemptOf(id!)).toMatchObject({ status: 'running' });
  });

  it("ignores another attempt's events, an ended job's, and a start of the attempt waiting to be retried", async () => {
    const [stale, ended, waiting] = await releasedRun('tx-fenced', ['CCCUSDT', 'DDDUSDT', 'EEEUSDT']);
    await jobs.markLeased(stale!, 2, lease(stale!));
    expect(await jobs.markStarted(stale!, 2, started(stale!))).toBeNull();
    expect(await jobs.find(stale!)).toMatchObject({ status: 'released', pricePerHour: 0 });
    await jobs.update(ended!, 1, (j) => Object.assign(j, { status: 'cancelled' }) !== null);
    await jobs.markLeased(ended!, 1, lease(ended!));
    expect(await jobs.markStarted(ended!, 1, started(ended!))).toBeNull();
    expect(await jobs.find(ended!)).toMatchObject({ status: 'cancelled', pricePerHour: 0 });
    await jobs.update(waiting!, 1, (j) => Object.assign(j, { status: 'retry_wait' }) !== null);
    expect(await jobs.markStarted(waiting!, 1, started(waiting!))).toBeNull();
    await jobs.markLeased(waiting!, 1, lease(waiting!));
    expect(await jobs.find(waiting!)).toMatchObject({ status: 'retry_wait', pricePerHour: 0.5 });
    expect(await attemptOf(waiting!)).toMatchObject({ status: 'requested' });
  });

  it('ends every job running, priced and reported started once, whatever order concurrent events come in', async () => {
    const ids = await releasedRun(
      'tx-race',
      Array.from({ length: 24 }, (_, i) => `R${i}USDT`),
    );
    const starts = await Promise.all(
      ids.flatMap((id, i) => {
        const events = [jobs.markLeased(id, 1, lease(id)).then(() => null), jobs.markStarted(id, 1, started(id)), jobs.markStarted(id, 1, started(id))];
        return i % 2 ? events.reverse() : events;
      }),
    );
    expect(starts.filter((s) => s !== null)).toHaveLength(ids.length);
    for (const id of ids) {
      expect(await jobs.find(id)).toMatchObject({ status: 'running', pricePerHour: 0.5, leaseId: `${id}-a1-lease` });
      expect(await attemptOf(id)).toMatchObject({ status: 'running', leaseId: `${id}-a1-lease` });
    }
  });

  it('applies the leases and the starts reported together in one statement each', async () => {
    const ids = await releasedRun(
      'tx-batched',
      Array.from({ length: 12 }, (_, i) => `B${i}USDT`),
    );
    const query = jest.spyOn(ds(), 'query');
    // The app's own timers query too: count only the statements that apply events.
    const applied = (table: string) => query.mock.calls.filter(([sql]) => sql.includes(`UPDATE scheduler.jobs j SET`) && sql.includes(table)).length;
    try {
      await Promise.all(ids.map((id) => jobs.markLeased(id, 1, lease(id))));
      // Made in one turn of the event loop, as the events of one read of the socket are: one statement.
      expect(applied('price_per_hour')).toBe(1);
      const moved = await Promise.all(ids.map((id) => jobs.markStarted(id, 1, started(id))));
      expect(applied("status = 'running'")).toBe(1);
      expect(moved.every((m) => m?.definition.priority === 'high')).toBe(true);
    } finally {
      query.mockRestore();
    }
    for (const id of ids) expect(await attemptOf(id)).toMatchObject({ status: 'running', leaseId: `${id}-a1-lease`, artifactsPrefix: `${id}/a1`, codeVersion: 'c0ffee' });
  });

  it("keeps the code version a start reports, even one arriving after the attempt's outcome, and never overwrites it", async () => {
    const [late, unknown, first] = await releasedRun('tx-code-version', ['LTCVUSDT', 'UNCVUSDT', 'FSCVUSDT']);
    await jobs.update(late!, 1, (j) => Object.assign(j, { status: 'failed' }) !== null);
    expect(await jobs.markStarted(late!, 1, started(late!, 'agent-1', 'late1'))).toBeNull();
    expect(await attemptOf(late!)).toMatchObject({ codeVersion: 'late1' });
    expect(await jobs.markStarted(unknown!, 1, started(unknown!, 'agent-1', null))).not.toBeNull();
    expect(await attemptOf(unknown!)).toMatchObject({ status: 'running', codeVersion: null });
    expect(await jobs.markStarted(first!, 1, started(first!, 'agent-1', 'first1'))).not.toBeNull();
    await Promise.all([jobs.markStarted(first!, 1, started(first!, 'agent-1', 'other2')), jobs.markStarted(late!, 1, started(late!, 'agent-1', 'other2'))]);
    expect(await attemptOf(first!)).toMatchObject({ codeVersion: 'first1' });
    expect(await attemptOf(late!)).toMatchObject({ codeVersion: 'late1' });
  });

  const ledgerOf = (symbol: string) =>
    ds().query(`SELECT outcome, job_id AS "jobId", attempt, training_hash AS "trainingHash", artifacts_prefix AS "artifactsPrefix" FROM scheduler.ledger WHERE symbol = $1`, [symbol]);
  const ds = () => app.get(DataSource);
  const metrics = { directionalHitRate: 0.6, sharpe: 1.2, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1, r2: 0.1 };

  it('records a success in one statement with its attempt row and its ledger entry; a repeat or a stale one changes nothing', async () => {
    const [id, stale] = await releasedRun('tx-succeeded', ['SUCUSDT', 'STLUSDT']);
    await jobs.markLeased(id!, 1, lease(id!));
    await jobs.markStarted(id!, 1, started(id!));
    const artifacts = [{ name: 'model.json', uri: `file:///artifacts/${id}/a1/model.json`, sha256: 'a'.repeat(64), bytes: 10 }];
    const done = { startedAt, finishedAt: new Date(startedAt.getTime() + 1_800_000), trainSeconds: 1799.5, metrics, artifactsPrefix: `${id}/a1`, artifacts };
    const job = await jobs.markSucceeded(id!, 1, done, new Date());
    expect(job).toMatchObject({ id, attempt: 1, runId: 'tx-succeeded', startedAt: done.startedAt, finishedAt: done.finishedAt, artifactsPrefix: `${id}/a1`, checkpoint: null });
    expect(job?.definition.symbol).toBe('SUCUSDT');
    // Half an hour at 0.5 an hour, priced from the attempt's own times.
    expect(await jobs.find(id!)).toMatchObject({ status: 'succeeded', trainSeconds: 1799.5, metrics, artifactsPrefix: `${id}/a1`, errorType: null, cost: 0.25 });
    // The attempt's report, for tracking, and the ledger's entry, in the same statement.
    expect(await attemptOf(id!)).toMatchObject({ status: 'succeeded', finishedAt: done.finishedAt, metrics, artifacts });
    const definition = (await jobs.find(id!))!.definition;
    expect(await ledgerOf('SUCUSDT')).toEqual([{ outcome: 'succeeded', jobId: id, attempt: 1, trainingHash: trainingHash(definition), artifactsPrefix: `${id}/a1` }]);
    expect(await jobs.markSucceeded(id!, 1, { ...done, trainSeconds: 1 }, new Date())).toBeNull();
    expect(await jobs.markSucceeded(stale!, 2, done, new Date())).toBeNull();
    expect(await jobs.find(id!)).toMatchObject({ trainSeconds: 1799.5 });
    expect(await jobs.find(stale!)).toMatchObject({ status: 'released' });
    expect(await ledgerOf('STLUSDT')).toEqual([]);
  });

  it('writes the successes reported together in one statement, and those of one training one by one', async () => {
    const ids = await releasedRun('tx-successes', ['SCAUSDT', 'SCBUSDT', 'SCCUSDT', 'SCDUSDT']);
    const twins = [...(await releasedRun('tx-twin-a', ['SCEUSDT'])), ...(await releasedRun('tx-twin-b', ['SCEUSDT']))];
    for (const id of [...ids, ...twins]) {
      await jobs.markLeased(id, 1, lease(id));
      await jobs.markStarted(id, 1, started(id));
    }
    const done = (id: string) => ({ startedAt, finishedAt: new Date(startedAt.getTime() + 60_000), trainSeconds: 59, metrics, artifactsPrefix: `${id}/a1`, artifacts: [] });
    const query = jest.spyOn(ds(), 'query');
    const written = () => query.mock.calls.filter(([sql]) => sql.includes(`UPDATE scheduler.jobs j SET status = 'succeeded'`)).length;
    try {
      const results = await Promise.all(ids.map((id) => jobs.markSucceeded(id, 1, done(id), new Date())));
      expect(results.map((r) => r?.id)).toEqual(ids);
      expect(written()).toBe(1);
      // The same symbol, date and inputs in two runs: one ledger entry, which one statement cannot write twice.
      const again = await Promise.all(twins.map((id) => jobs.markSucceeded(id, 1, done(id), new Date())));
      expect(again.map((r) => r?.id)).toEqual(twins);
      expect(written()).toBe(1 + 1 + 2);
    } finally {
      query.mockRestore();
    }
    for (const id of [...ids, ...twins]) expect(await jobs.find(id)).toMatchObject({ status: 'succeeded', trainSeconds: 59, cost: 0.5 / 60 });
    expect(await ledgerOf('SCEUSDT')).toEqual([expect.objectContaining({ outcome: 'succeeded', jobId: twins[1] })]);
  });

  /** A batch's array parameter as an SQL literal (EXECUTE inside EXPLAIN takes no bound parameters). */
  const arrayLiteral = (values: unknown) => {
    const element = (v: unknown) => (v === null ? 'NULL' : `"${String(v instanceof Date ? v.toISOString() : v).replace(/[\\"]/g, (c) => `\\${c}`)}"`);
    const array = `{${(values as unknown[]).map(element).join(',')}}`;
    return `'${array.replace(/'/g, "''")}'`;
  };

  it('looks the jobs of a batch of starts or successes up by id, not through the status indexes, in the plan it keeps', async () => {
    const [id] = await releasedRun('tx-plan', ['PLNUSDT']);
    // A table of finished jobs, analyzed: the planner's estimates of a day of history.
    await ds().query(
      `INSERT INTO scheduler.jobs SELECT (jsonb_populate_record(NULL::scheduler.jobs, to_jsonb(j) || jsonb_build_object('id', j.id || '-' || g, 'status', 'succeeded'))).*
         FROM scheduler.jobs j, generate_series(1, 3000) g WHERE j.id = $1`,
      [id],
    );
    await ds().query('ANALYZE scheduler.jobs');
    const query = jest.spyOn(ds(), 'query');
    let batches: [string, unknown[]][];
    try {
      await jobs.markLeased(id!, 1, lease(id!));
      await jobs.markStarted(id!, 1, started(id!));
      const done = { startedAt, finishedAt: new Date(startedAt.getTime() + 1000), trainSeconds: 1, metrics, artifactsPrefix: `${id}/a1`, artifacts: [] };
      await jobs.markSucceeded(id!, 1, done, new Date());
      batches = query.mock.calls.filter(([sql]) => /UPDATE scheduler\.jobs j SET status = '(running|succeeded)'/.test(sql)) as [string, unknown[]][];
    } finally {
      query.mockRestore();
    }
    expect(batches).toHaveLength(2);
    const runner = ds().createQueryRunner();
    try {
      // The plan a prepared statement keeps once it proves generic.
      await runner.query(`SET plan_cache_mode = force_generic_plan`);
      for (const [i, [sql, params]] of batches.entries()) {
        await runner.query(`PREPARE plan_check_${i} AS ${sql}`);
        const rows: { 'QUERY PLAN': string }[] = await runner.query(`EXPLAIN EXECUTE plan_check_${i}(${params.map(arrayLiteral).join(', ')})`);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).toMatch(/Index Scan using jobs_pkey on jobs/);
        expect(plan).not.toMatch(/Bitmap Index Scan on jobs_(open|status)/);
      }
    } finally {
      // Only what this test made: the pool's connection keeps the repository's own prepared statements.
      for (const i of batches.keys()) await runner.query(`DEALLOCATE plan_check_${i}`).catch(() => undefined);
      await runner.query('RESET plan_cache_mode');
      await runner.release();
      await ds().query(`DELETE FROM scheduler.jobs WHERE id LIKE $1`, [`${id}-%`]);
      await ds().query('ANALYZE scheduler.jobs');
    }
  });

  it('answers a view of a job whose success it is writing once that write has ended, not before', async () => {
    const [id] = await releasedRun('tx-view-waits', ['VWUSDT']);
    await jobs.markLeased(id!, 1, lease(id!));
    await jobs.markStarted(id!, 1, started(id!));
    const done = { startedAt, finishedAt: new Date(startedAt.getTime() + 1000), trainSeconds: 1, metrics, artifactsPrefix: `${id}/a1`, artifacts: [] };
    // Another session holds the job's row, so the success cannot be written until it lets go.
    const holder = app.get(DataSource).createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query('SELECT 1 FROM scheduler.jobs WHERE id = $1 FOR UPDATE', [id]);
    const writing = jobs.markSucceeded(id!, 1, done, new Date());
    let answered: { status: string } | null | undefined;
    const asking = jobs.view(id!).then((v) => (answered = v));
    // A view of another job is not held up.
    expect(await jobs.view('no-such-job')).toBeNull();
    expect(answered).toBeUndefined();
    await holder.commitTransaction();
    await holder.release();
    await writing;
    await asking;
    expect(answered).toMatchObject({ status: 'succeeded', attempt: 1 });
  });

  it('releases no more than the run allows however many releases run at once, and nothing for a run that is not running', async () => {
    const symbols = ['R1USDT', 'R2USDT', 'R3USDT', 'R4USDT', 'R5USDT', 'R6USDT', 'R7USDT', 'R8USDT'];
    const { run, jobs: rows } = storedRun('tx-release', symbols, { status: 'running', jobStatus: 'pending', maxConcurrent: 3 });
    await app.get(RunRepository).create({ ...run, traceContext: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } }, rows);
    const now = new Date();
    const answers = await Promise.all(Array.from({ length: 6 }, () => jobs.claimReleasable('tx-release', now)));
    // The app's reconciler may release some of them too, meanwhile: the run's rows are the count.
    const inDb = (await jobs.ofRun('tx-release')).filter((j) => j.status === 'released');
    expect(inDb).toHaveLength(3);
    const released = answers.flatMap((a) => a.jobs);
    expect(new Set(released.map((j) => j.id)).size).toBe(released.length);
    for (const j of released) {
      expect(inDb.map((d) => d.id)).toContain(j.id);
      expect(j).toMatchObject({ status: 'released', attempt: 1, releasedAt: now });
    }
    // The calls that released something carry the run's trace context.
    expect(answers.filter((a) => a.jobs.length).map((a) => a.traceContext)).toEqual(
      answers.filter((a) => a.jobs.length).map(() => ({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })),
    );
    expect((await jobs.attempts(inDb[0]!.id)).map((a) => a.status)).toEqual(['requested']);

    const { run: done, jobs: doneRows } = storedRun('tx-release-done', ['R9USDT'], { status: 'succeeded', jobStatus: 'pending', maxConcurrent: 3 });
    await app.get(RunRepository).create(done, doneRows);
    expect(await jobs.claimReleasable('tx-release-done', now)).toEqual({ jobs: [], traceContext: null });
  });

  it("reads the run's active and waiting jobs to release, not every job of the run, whatever plan the server keeps", async () => {
    const symbols = Array.from({ length: 600 }, (_, i) => `RD${i}USDT`);
    const { run, jobs: rows } = storedRun('tx-release-reads', symbols, { status: 'running', jobStatus: 'succeeded', maxConcurrent: 3 });
    await app.get(RunRepository).create(run, rows);
    await ds().query(`UPDATE scheduler.jobs SET status = 'pending' WHERE id = ANY($1)`, [rows.slice(0, 2).map((r) => r.id)]);
    await ds().query('ANALYZE scheduler.jobs');
    const session = ds().createQueryRunner();
    try {
      // The plan a busy server keeps for a statement run often is its generic plan, made for any values.
      await session.query('SET plan_cache_mode = force_generic_plan');
      await session.startTransaction();
      await session.query('SELECT * FROM scheduler.release_waiting($1, $2, $3::text[])', ['tx-release-reads', new Date(), [...ACTIVE_JOB_STATES]]);
      const [read] = (await session.query(`SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relid = 'scheduler.jobs'::regclass`)) as { n: string }[];
      // The waiting and active jobs, each read a few times (to count, to choose, to release): not the 598 that ended.
      expect(Number(read!.n)).toBeLessThan(60);
    } finally {
      if (session.isTransactionActive) await session.rollbackTransaction();
      await session.release();
    }
  });

  it("overwrites a failed training's ledger entry with a success of the same inputs", async () => {
    const [id] = await releasedRun('tx-ledger-over', ['LDHUSDT']);
    const stored = (await jobs.find(id!))!;
    expect(stored.trainingHash).toBe(trainingHash(stored.definition));
    // An earlier job of the same training failed.
    await ds().query(
      `INSERT INTO scheduler.ledger (date, symbol, training_hash, outcome, job_id, attempt, artifacts_prefix, checkpoint, recorded_at) VALUES ($1, 'LDHUSDT', $2, 'failed', 'earlier-job', 2, NULL, NULL, now())`,
      [stored.definition.date, stored.trainingHash],
    );
    await jobs.markStarted(id!, 1, started(id!));
    const done = { startedAt: new Date('2026-12-01T10:00:00Z'), finishedAt: new Date('2026-12-01T10:01:00Z'), trainSeconds: 60, metrics, artifactsPrefix: `${id}/a1`, artifacts: [] };
    expect(await jobs.markSucceeded(id!, 1, done, new Date())).not.toBeNull();
    expect(await ledgerOf('LDHUSDT')).toEqual([{ outcome: 'succeeded', jobId: id, attempt: 1, trainingHash: stored.trainingHash, artifactsPrefix: `${id}/a1` }]);
  });

  it('hashes the jobs stored before the column, as the ledger hashed them', async () => {
    const [id] = await releasedRun('tx-hash-migration', ['MIGUSDT']);
    const migration = new JobTrainingHash1765700000000();
    const runner = ds().createQueryRunner();
    try {
      await migration.down(runner);
      expect(await ds().query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'scheduler' AND table_name = 'jobs' AND column_name = 'training_hash'`)).toEqual([
        { n: 0 },
      ]);
      await migration.up(runner);
    } finally {
      await runner.release();
    }
    const job = (await jobs.find(id!))!;
    expect(job.trainingHash).toBe(trainingHash(job.definition));
    const [{ nulls }] = await ds().query(`SELECT count(*)::int AS nulls FROM scheduler.jobs WHERE training_hash IS NULL`);
    expect(nulls).toBe(0);
  });
});
