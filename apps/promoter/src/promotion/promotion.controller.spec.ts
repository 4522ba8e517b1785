import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Metrics, PromotionPolicy } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, sha256Buffer, type ArtifactStore } from '@trainyard/storage';
import { readStored, startS3TestServer, TestService, trainedJob, type S3TestServer } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { pointerKey, type ProductionPointer } from './production-artifacts.service';
import { ModelVersionEntity } from '../registry/model-version.entity';
import { RegistryStore } from '../registry/registry.store';
import { answerAsScheduler, type SchedulerRecord } from '../registry/scheduler-record.fixture';
import { PromotionController } from './promotion.controller';

const metrics = (directionalHitRate: number): Metrics => ({
  directionalHitRate,
  sharpe: 1.2,
  maxDrawdown: 0.1,
  totalReturn: 0.05,
  mae: 0.01,
  rmse: 0.02,
  mape: 1.3,
  r2: 0.05,
});

describe.each(['local folder', 'S3 (s3rver)'])('promotion of successful jobs (real PostgreSQL, NATS; artifacts in a %s)', (storage) => {
  // The test hands each job.succeeded to the controller itself, so no transport.
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'prom', transport: false });
  const { prefix } = svc;
  let s3: S3TestServer | undefined;
  let app: INestApplication;
  let handler: PromotionController;
  let store: ArtifactStore;
  let ds: DataSource;
  /** What the scheduler recorded for jobs that are not attempt 1 succeeded of an `auto` run. */
  const scheduler = new Map<string, SchedulerRecord>();
  /** The ids of each runs.jobs question the promoter asked. */
  const asked: string[][] = [];

  beforeAll(async () => {
    if (storage.startsWith('S3')) s3 = await startS3TestServer();
    app = await svc.start(s3?.env);
    handler = app.get(PromotionController);
    await answerAsScheduler(app.get(NatsBus), scheduler, asked);
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(async () => {
    await svc.close();
    await s3?.close();
  });

  /** A success of a job whose run asked for `promote` (and `canary`), as the scheduler will answer. */
  const trained = (symbol: string, jobId: string, hitRate: number, promote: PromotionPolicy = 'auto', canary = false) => {
    scheduler.set(jobId, { ...scheduler.get(jobId), promote, canary });
    return trainedJob({ store, symbol, jobId, metrics: metrics(hitRate) });
  };

  const versionsOf = (symbol: string): Promise<{ id: number; version: number; stage: string; job_id: string }[]> =>
    ds.query(`SELECT id, version, stage, job_id FROM promoter.model_versions WHERE symbol = $1 ORDER BY version`, [symbol]);
  const decisionsOf = (symbol: string) => ds.query(`SELECT outcome, rule, mode, applied, reason FROM promoter.decisions WHERE symbol = $1 ORDER BY id`, [symbol]);
  const published = async (event: string, symbol: string) => (await readStored(prefix, event)).map((m) => m.data).filter((d) => d.symbol === symbol);

  it('numbers 24 registrations of one key made at once 1..24 without gaps, each job once, however they collide', async () => {
    const registry = app.get(RegistryStore);
    const fields = (i: number, attempt = 1) => ({
      symbol: 'NUMUSDT',
      variant: 'default' as const,
      runId: 'r-numbering',
      jobId: `r-numbering-NUMUSDT-${i}`,
      attempt,
      promote: 'off' as const,
      canary: false,
      artifactsPrefix: `models/NUMUSDT/${i}`,
      artifacts: [],
      metrics: metrics(0.5),
      featureset: 'ohlcv-v1',
      costs: { feeBps: 10, spreadBps: 2 },
      evaluationWindow: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z', candles: 24 },
    });
    // Every job twice: the same attempt again gets the version it has.
    const calls = [...Array.from({ length: 24 }, (_, i) => fields(i)), ...Array.from({ length: 24 }, (_, i) => fields(i))];
    const results = await Promise.all(calls.map((f) => registry.register(f)));
    const versions = await versionsOf('NUMUSDT');
    expect(versions.map((v) => v.version)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(new Set(versions.map((v) => v.job_id)).size).toBe(24);
    for (const [i, r] of results.entries()) expect(r.version.jobId).toBe(calls[i]!.jobId);
    expect(results.filter((r) => r.created)).toHaveLength(24);
    // Another attempt of a job that has its version gets the winner's, and is kept as ignored.
    expect(await registry.register(fields(0, 2))).toMatchObject({ registered: false, created: false, version: { jobId: 'r-numbering-NUMUSDT-0', attempt: 1 } });
    expect(await registry.ignoredSuccesses('r-numbering-NUMUSDT-0')).toHaveLength(1);
  });

  it('takes its own attempt, registered by a second delivery between its two looks, for itself, not for an ignored success (the 24 registrations above hit it once)', async () => {
    // The interleaving: this delivery's INSERT lost its number to another job, it found no row of its
    // attempt, the second delivery of the same success then committed one, and this delivery took
    // that row for another attempt's win.
    const registry = app.get(RegistryStore);
    const jobId = 'r-race-RACEUSDT';
    const race = {
      symbol: 'RACEUSDT',
      variant: 'default' as const,
      runId: 'r-race',
      jobId,
      attempt: 1,
      promote: 'off' as const,
      canary: false,
      artifactsPrefix: 'models/RACEUSDT/a1',
      artifacts: [],
      metrics: metrics(0.5),
      featureset: 'ohlcv-v1',
      costs: { feeBps: 10, spreadBps: 2 },
      evaluationWindow: { from: '2026-01-01T00:00:00.000Z', to: '2026-01-02T00:00:00.000Z', candles: 24 },
    };
    const query = ds.query.bind(ds);
    let lost = false;
    const insert = jest.spyOn(ds, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      if (!lost && sql.includes('INSERT INTO promoter.model_versions') && JSON.stringify(params).includes(jobId)) {
        lost = true;
        return [];
      }
      return query(sql, params);
    });
    const repo = ds.getRepository(ModelVersionEntity);
    const look = jest.spyOn(repo, 'findOneBy').mockImplementationOnce(async () => {
      await registry.register(race);
      return null;
    });
    try {
      expect(await registry.register(race)).toMatchObject({ registered: true, created: false, version: { jobId, attempt: 1 } });
      expect(await registry.ignoredSuccesses(jobId)).toEqual([]);
      expect((await versionsOf('RACEUSDT')).map((v) => v.job_id)).toEqual([jobId]);
    } finally {
      insert.mockRestore();
      look.mockRestore();
    }
  });

  it('numbers concurrent successes of one symbol 1..n and leaves exactly one, the best, in production', async () => {
    const hitRates = [0.51, 0.58, 0.53, 0.6, 0.5, 0.57, 0.52, 0.59, 0.54, 0.55];
    const events = await Promise.all(hitRates.map((h, i) => trained('BTCUSDT', `daily-20261122-BTCUSDT-${i}`, h)));

    await Promise.all(events.map((e) => handler.onJobSucceeded(e)));

    const versions = await versionsOf('BTCUSDT');
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const production = versions.filter((v) => v.stage === 'production');
    expect(production).toHaveLength(1);
    const best = production[0]!;
    // Whatever order the decisions took, the last one standing beats every other.
    expect(best.job_id).toBe('daily-20261122-BTCUSDT-3');
    expect(await decisionsOf('BTCUSDT')).toHaveLength(10);

    const pointer: ProductionPointer = JSON.parse((await store.get(pointerKey('BTCUSDT'))).toString());
    expect(pointer).toMatchObject({ symbol: 'BTCUSDT', version: best.version, prefix: `models/production/BTCUSDT/v${best.version}` });
    for (const a of pointer.artifacts) {
      expect(sha256Buffer(await store.get(`${pointer.prefix}/${a.name}`))).toBe(a.sha256);
    }
    expect(await published('model.registered', 'BTCUSDT')).toHaveLength(10);
    const promoted = await published('model.promoted', 'BTCUSDT');
    expect(promoted.map((p) => p.version)).toContain(best.version);
    expect(promoted.every((p) => p.decision.applied && p.decision.mode === 'auto')).toBe(true);
  });

  it('asks the scheduler about the successes it handles together in one question', async () => {
    const events = await Promise.all([0.51, 0.52, 0.53, 0.54].map((h, i) => trained('ATOMUSDT', `daily-20261122-ATOMUSDT-${i}`, h)));
    await Promise.all(events.map((e) => handler.onJobSucceeded(e)));
    expect(await versionsOf('ATOMUSDT')).toHaveLength(4);
    const questions = asked.filter((ids) => ids.some((id) => id.includes('ATOMUSDT')));
    expect(questions).toEqual([events.map((e) => e.jobId)]);
  });

  it('writes the decisions made together in one statement, each version once, a decided one answered with its decision', async () => {
    const symbols = ['DRYAUSDT', 'DRYBUSDT', 'DRYCUSDT', 'DRYDUSDT'];
    for (const symbol of symbols) await handler.onJobSucceeded(await trained(symbol, `daily-20261122-${symbol}`, 0.55, 'dry'));
    const registry = app.get(RegistryStore);
    const made = await Promise.all(symbols.map(async (symbol) => (await registry.decisionOf((await versionsOf(symbol))[0]!.id))!));
    // The last one stays decided; the others are decided again, as if for the first time.
    await ds.query(`DELETE FROM promoter.decisions WHERE id = ANY($1)`, [made.slice(0, 3).map((d) => d.id)]);
    const query = jest.spyOn(ds, 'query');
    try {
      const asked = [...made, made[0]!].map(({ id: _id, createdAt: _createdAt, ...decision }) => ({ ...decision, reason: `again: ${decision.reason}` }));
      const recorded = await Promise.all(asked.map((d) => registry.recordDecisionOnce(d)));
      expect(query.mock.calls.filter(([sql]) => sql.includes('INSERT INTO promoter.decisions'))).toHaveLength(1);
      expect(recorded.map((d) => d.versionId)).toEqual(asked.map((d) => d.versionId));
      expect(recorded[4]!.id).toBe(recorded[0]!.id);
      expect(recorded[3]).toMatchObject({ id: made[3]!.id, reason: made[3]!.reason });
      expect(recorded.slice(0, 3).every((d, i) => d.reason === `again: ${made[i]!.reason}` && d.id !== made[i]!.id)).toBe(true);
    } finally {
      query.mockRestore();
    }
    for (const symbol of symbols) expect(await decisionsOf(symbol)).toHaveLength(1);
  });

  it('registers and decides a redelivered success once', async () => {
    const event = await trained('SOLUSDT', 'daily-20261122-SOLUSDT', 0.55);
    await Promise.all([handler.onJobSucceeded(event), handler.onJobSucceeded(event)]);
    await handler.onJobSucceeded(event);

    expect(await versionsOf('SOLUSDT')).toEqual([expect.objectContaining({ version: 1, stage: 'production' })]);
    expect(await decisionsOf('SOLUSDT')).toEqual([{ outcome: 'promote', rule: 'no_production', mode: 'auto', applied: true, reason: 'no production model yet' }]);
    expect(await published('model.registered', 'SOLUSDT')).toHaveLength(1);
    expect(await published('model.promoted', 'SOLUSDT')).toHaveLength(1);
  });

  it.each(['dry', 'off'] as const)('decides a redelivered success of a %s run once, without the production lock, and changes nothing in production', async (policy) => {
    const symbol = policy === 'dry' ? 'DRYUSDT' : 'OFFUSDT';
    const first = await trained(symbol, `daily-20261122-${symbol}-1`, 0.55, 'auto');
    await handler.onJobSucceeded(first);
    const event = await trained(symbol, `daily-20261122-${symbol}-2`, 0.6, policy);
    await Promise.all([handler.onJobSucceeded(event), handler.onJobSucceeded(event), handler.onJobSucceeded(event)]);
    await handler.onJobSucceeded(event);

    expect((await versionsOf(symbol)).map((v) => [v.version, v.stage])).toEqual([
      [1, 'production'],
      [2, 'candidate'],
    ]);
    const decisions = await decisionsOf(symbol);
    expect(decisions).toHaveLength(2);
    expect(decisions[1]).toMatchObject(policy === 'dry' ? { outcome: 'promote', mode: 'dry', applied: false } : { outcome: 'skipped', mode: 'off', applied: false });
    // Compared with production as it stood: version 1's metrics are on the record.
    const [row] = await ds.query(`SELECT version_id, production_version FROM promoter.decisions WHERE symbol = $1 ORDER BY id DESC LIMIT 1`, [symbol]);
    expect(row.production_version).toBe(1);
    // Recording it again, as a late delivery would, gives the first decision back.
    const registry = app.get(RegistryStore);
    const recorded = (await registry.decisionOf(row.version_id))!;
    const { id, createdAt, ...again } = recorded;
    expect(await registry.recordDecisionOnce({ ...again, reason: 'a later delivery' })).toMatchObject({ id, reason: recorded.reason });
    expect(createdAt).toBeInstanceOf(Date);
  });

  it('registers only the attempt the scheduler counts: a fenced-off attempt finishing first is recorded with why, never registered or promoted', async () => {
    const jobId = 'daily-20261122-DOGEUSDT';
    scheduler.set(jobId, { attempt: 2, status: 'succeeded' });
    const attempt = async (n: number, hitRate: number) => ({
      ...(await trainedJob({ store, symbol: 'DOGEUSDT', jobId, metrics: metrics(hitRate), artifactsPrefix: `models/DOGEUSDT/20261123_005950Z_a${n}` })),
      id: `${jobId}-a${n}-succeeded`,
      attempt: n,
      leaseId: `${jobId}-a${n}-lease`,
    });
    const second = await attempt(2, 0.55);
    const first = await attempt(1, 0.62); // lost by its agent and retried; better on paper
    await handler.onJobSucceeded(first);
    await Promise.all([handler.onJobSucceeded(second), handler.onJobSucceeded(first), handler.onJobSucceeded(second)]);

    expect(await versionsOf('DOGEUSDT')).toEqual([expect.objectContaining({ version: 1, stage: 'production', job_id: jobId })]);
    const [row] = await ds.query(`SELECT attempt, artifacts_prefix FROM promoter.model_versions WHERE symbol = 'DOGEUSDT'`);
    expect(row).toEqual({ attempt: 2, artifacts_prefix: 'models/DOGEUSDT/20261123_005950Z_a2' });
    expect(await decisionsOf('DOGEUSDT')).toHaveLength(1);
    expect((await published('model.registered', 'DOGEUSDT')).map((r) => r.version)).toEqual([1]);
    expect(await published('model.promoted', 'DOGEUSDT')).toHaveLength(1);
    const ignored = await app.get(RegistryStore).ignoredSuccesses(jobId);
    expect(ignored).toEqual([
      expect.objectContaining({ attempt: 1, leaseId: `${jobId}-a1-lease`, artifactsPrefix: 'models/DOGEUSDT/20261123_005950Z_a1', winnerAttempt: null, reason: 'the scheduler is at attempt 2' }),
    ]);
  });

  it.each([
    { status: 'running' as const, why: 'the scheduler has not applied the success yet' },
    { status: 'retry_wait' as const, why: 'the attempt was declared lost, and its late success is accepted before the retry is released (chaos trial 7000)' },
  ])('waits while the scheduler holds the attempt $status ($why), then registers what it counts', async ({ status }) => {
    const jobId = `daily-20261122-LINKUSDT-${status}`;
    scheduler.set(jobId, { attempt: 1, status });
    const event = await trained('LINKUSDT', jobId, 0.6);
    const before = (await versionsOf('LINKUSDT')).length;
    const settled = handler.onJobSucceeded(event);
    await new Promise((r) => setTimeout(r, 500));
    expect(await versionsOf('LINKUSDT')).toHaveLength(before);
    scheduler.set(jobId, { attempt: 1, status: 'succeeded' });
    await settled;
    expect(await versionsOf('LINKUSDT')).toHaveLength(before + 1);
    expect(await app.get(RegistryStore).ignoredSuccesses(jobId)).toEqual([]);
  });

  it('keeps one version per job when two attempts succeed at the same moment', async () => {
    const jobId = 'daily-20261122-AVAXUSDT';
    scheduler.set(jobId, { attempt: 3, status: 'succeeded' });
    const events = await Promise.all(
      [1, 2, 3].map(async (n) => ({
        ...(await trainedJob({ store, symbol: 'AVAXUSDT', jobId, metrics: metrics(0.5 + n / 100), artifactsPrefix: `models/AVAXUSDT/20261123_005950Z_a${n}` })),
        id: `${jobId}-a${n}-succeeded`,
        attempt: n,
      })),
    );
    await Promise.all(events.map((e) => handler.onJobSucceeded(e)));
    expect(await versionsOf('AVAXUSDT')).toHaveLength(1);
    expect(await app.get(RegistryStore).ignoredSuccesses(jobId)).toHaveLength(2);
    expect(await decisionsOf('AVAXUSDT')).toHaveLength(1);
  });

  it('refuses an artifact whose bytes changed after training', async () => {
    const event = await trained('ETHUSDT', 'daily-20261122-ETHUSDT', 0.6);
    await store.put(`${event.artifactsPrefix}/model.bin`, 'weights swapped after the event');

    await handler.onJobSucceeded(event);

    expect(await versionsOf('ETHUSDT')).toEqual([expect.objectContaining({ version: 1, stage: 'candidate' })]);
    const [decision] = await decisionsOf('ETHUSDT');
    expect(decision).toMatchObject({ outcome: 'reject', rule: 'checksum_mismatch', mode: 'auto', applied: false });
    expect(decision.reason).toMatch(/^model\.bin changed since training: sha256 [0-9a-f]{12}…, trained as [0-9a-f]{12}…$/);
    expect(await store.exists(pointerKey('ETHUSDT'))).toBe(false);
    expect(await store.list('models/production/ETHUSDT/')).toEqual([]);
    const [rejected] = await published('model.rejected', 'ETHUSDT');
    expect(rejected.decision).toMatchObject({ outcome: 'reject', rule: 'checksum_mismatch' });
  });

  it('decides but writes nothing in dry mode or on a canary, and only records the skip when off', async () => {
    await handler.onJobSucceeded(await trained('ADAUSDT', 'daily-20261122-ADAUSDT-dry', 0.55, 'dry'));
    await handler.onJobSucceeded(await trained('ADAUSDT', 'daily-20261122-ADAUSDT-canary', 0.56, 'auto', true));
    await handler.onJobSucceeded(await trained('ADAUSDT', 'daily-20261122-ADAUSDT-off', 0.57, 'off'));

    expect((await versionsOf('ADAUSDT')).map((v) => v.stage)).toEqual(['candidate', 'candidate', 'candidate']);
    expect(await decisionsOf('ADAUSDT')).toEqual([
      { outcome: 'promote', rule: 'no_production', mode: 'dry', applied: false, reason: 'no production model yet' },
      { outcome: 'promote', rule: 'no_production', mode: 'dry', applied: false, reason: 'no production model yet (canary run: auto downgraded to dry)' },
      { outcome: 'skipped', rule: 'promotion_off', mode: 'off', applied: false, reason: 'promotion is off for this run' },
    ]);
    expect(await store.exists(pointerKey('ADAUSDT'))).toBe(false);
    const promoted = await published('model.promoted', 'ADAUSDT');
    expect(promoted.map((p) => [p.version, p.decision.applied, p.productionUri])).toEqual([
      [1, false, null],
      [2, false, null],
    ]);
  });

  it('decides a dry or off success against the production its registration read, in the same statement as the insert', async () => {
    await handler.onJobSucceeded(await trained('DOTUSDT', 'daily-20261122-DOTUSDT-auto', 0.55, 'auto'));
    expect((await versionsOf('DOTUSDT')).map((v) => v.stage)).toEqual(['production']);
    const statements = jest.spyOn(ds, 'query');
    try {
      await handler.onJobSucceeded(await trained('DOTUSDT', 'daily-20261123-DOTUSDT-dry', 0.6, 'dry'));
      await handler.onJobSucceeded(await trained('DOTUSDT', 'daily-20261124-DOTUSDT-off', 0.5, 'off'));
      // No read of production on its own: it came back with each inserted version.
      expect(statements.mock.calls.map(([sql]) => String(sql)).filter((sql) => /^SELECT \* FROM promoter\.model_versions WHERE .*stage = 'production'/.test(sql))).toEqual([]);
    } finally {
      statements.mockRestore();
    }
    const recorded = await ds.query(
      `SELECT outcome, mode, production_version AS "productionVersion", production_metrics->>'directionalHitRate' AS "productionHitRate" FROM promoter.decisions WHERE symbol = 'DOTUSDT' ORDER BY id`,
    );
    expect(recorded).toEqual([
      { outcome: 'promote', mode: 'auto', productionVersion: null, productionHitRate: null },
      { outcome: 'promote', mode: 'dry', productionVersion: 1, productionHitRate: '0.55' },
      { outcome: 'skipped', mode: 'off', productionVersion: 1, productionHitRate: '0.55' },
    ]);
    expect((await versionsOf('DOTUSDT')).map((v) => v.stage)).toEqual(['production', 'candidate', 'candidate']);
  });
});
