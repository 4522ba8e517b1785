import type { INestApplication } from '@nestjs/common';
import { gunzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import type { Metrics } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { pointerKey, type ProductionPointer } from '../promotion/production-artifacts.service';
import { PromotionController } from '../promotion/promotion.controller';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';

jest.setTimeout(60_000);

const DAY_MS = 24 * 60 * 60 * 1000;
const metrics = (directionalHitRate: number, sharpe = 1.2): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });
/** The trainer's attempt folder name for a start `daysAgo` days (plus `seconds`) ago. */
const stamp = (daysAgo: number, seconds = 0) => {
  const iso = new Date(Date.now() - daysAgo * DAY_MS + seconds * 1000).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}Z`;
};

/** Registry, rollback, manual promotion and retention over HTTP, on real PostgreSQL, NATS and local storage. */
describe('promoter REST API', () => {
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'papi', listen: true });
  const { prefix } = svc;
  let app: INestApplication;
  let base: string;
  let store: ArtifactStore;
  let ds: DataSource;
  let jobs = 0;

  beforeAll(async () => {
    app = await svc.start({ RETENTION_KEEP_TOP: '2', STORAGE_QUOTA_GB: '0.000001', API_OPERATOR_TOKENS: 'operator-token-for-the-specs-0001' });
    await answerAsScheduler(app.get(NatsBus), new Map());
    base = svc.url;
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

  const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const headers = { 'content-type': 'application/json', authorization: 'Bearer operator-token-for-the-specs-0001', ...extra };
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** Uploads an attempt's artifacts under `models/<symbol>/<stamp>` as the trainer does, and has the promoter handle its success. */
  async function train(symbol: string, hitRate: number, sharpe = 1.2, folder = stamp(0, jobs)): Promise<string> {
    const jobId = `daily-20261122-${symbol}-${++jobs}`;
    const artifactsPrefix = `models/${symbol}/${folder}`;
    const event = await trainedJob({ store, symbol, jobId, metrics: metrics(hitRate, sharpe), artifactsPrefix });
    await app.get(PromotionController).onJobSucceeded(event);
    return artifactsPrefix;
  }

  const stages = async (symbol: string) =>
    ((await ds.query(`SELECT version, stage FROM promoter.model_versions WHERE symbol = $1 ORDER BY version`, [symbol])) as { version: number; stage: string }[]).map(
      (r) => `v${r.version}:${r.stage}`,
    );
  const pointer = async (symbol: string): Promise<ProductionPointer> => JSON.parse((await store.get(pointerKey(symbol))).toString());
  const published = async (event: string, symbol: string) => (await readStored(prefix, event)).map((m) => m.data).filter((d) => d.symbol === symbol);

  it('answers only bearer tokens; its OpenAPI document, open, says so', async () => {
    expect((await fetch(`${base}/models`)).status).toBe(401);
    expect((await fetch(`${base}/retention/run`, { method: 'POST' })).status).toBe(401);
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { security: unknown };
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('rolls back to the previous production version, then to a chosen one, and refuses production or unknown versions', async () => {
    await train('BTCUSDT', 0.5);
    await train('BTCUSDT', 0.55);
    await train('BTCUSDT', 0.6);
    expect(await stages('BTCUSDT')).toEqual(['v1:archived', 'v2:archived', 'v3:production']);

    const back = await call('POST', '/models/BTCUSDT/rollback');
    expect(back).toMatchObject({ status: 200, body: { symbol: 'BTCUSDT', version: 2, fromVersion: 3, decision: { outcome: 'promote', rule: 'manual_rollback', mode: 'auto', applied: true } } });
    expect(await stages('BTCUSDT')).toEqual(['v1:archived', 'v2:production', 'v3:archived']);
    expect(await pointer('BTCUSDT')).toMatchObject({ version: 2, prefix: 'models/production/BTCUSDT/v2' });

    const chosen = await call('POST', '/models/BTCUSDT/rollback', { version: 1, reason: 'v2 misbehaves live' });
    expect(chosen.body).toMatchObject({ version: 1, fromVersion: 2, decision: { reason: 'v2 misbehaves live' } });
    expect(await stages('BTCUSDT')).toEqual(['v1:production', 'v2:archived', 'v3:archived']);
    expect((await pointer('BTCUSDT')).version).toBe(1);

    expect(await published('model.rolled_back', 'BTCUSDT')).toEqual([
      expect.objectContaining({ version: 2, fromVersion: 3, reason: 'rolled back by an operator', runId: 'daily-20261122' }),
      expect.objectContaining({ version: 1, fromVersion: 2, reason: 'v2 misbehaves live' }),
    ]);
    const again = await call('POST', '/models/BTCUSDT/rollback', { version: 1 });
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('BTCUSDT v1 is already in production');
    expect((await call('POST', '/models/BTCUSDT/rollback', { version: 9 })).status).toBe(404);
  });

  it('refuses a version whose artifact was tampered with and changes nothing, and promotes an intact one by hand', async () => {
    await train('ETHUSDT', 0.6);
    const tampered = await train('ETHUSDT', 0.5);
    await train('ETHUSDT', 0.4);
    await store.put(`${tampered}/model.bin`, 'weights swapped after training');
    const before = { stages: await stages('ETHUSDT'), pointer: (await store.get(pointerKey('ETHUSDT'))).toString() };
    const decisions = async () => (await ds.query(`SELECT count(*)::int AS n FROM promoter.decisions WHERE symbol = 'ETHUSDT'`))[0].n;
    expect(await decisions()).toBe(3);

    const refused = await call('POST', '/models/ETHUSDT/promote', { version: 2 });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/^ETHUSDT v2 refused \(checksum_mismatch\): model\.bin changed since training/);
    expect(await stages('ETHUSDT')).toEqual(before.stages);
    expect((await store.get(pointerKey('ETHUSDT'))).toString()).toBe(before.pointer);
    expect(await store.list('models/production/ETHUSDT/v2/')).toEqual([]);
    expect(await decisions()).toBe(3);

    const promoted = await call('POST', '/models/ETHUSDT/promote', { version: 3, reason: 'better in paper trading' });
    expect(promoted.body).toMatchObject({ version: 3, fromVersion: 1, decision: { rule: 'manual_promote', applied: true } });
    expect(await stages('ETHUSDT')).toEqual(['v1:archived', 'v2:candidate', 'v3:production']);
    expect((await pointer('ETHUSDT')).version).toBe(3);
    const events = await published('model.promoted', 'ETHUSDT');
    expect(events.find((e) => e.decision.rule === 'manual_promote')).toMatchObject({ version: 3, productionUri: expect.stringContaining('CURRENT.json') });
  });

  it('keeps the top K, production and previous production, archives old checkpoints and deletes old abandoned attempts', async () => {
    await train('SOLUSDT', 0.5, -2); // v1: production below, with the worst Sharpe
    await train('SOLUSDT', 0.55, -1); // v2: promoted, then the previous production version
    const oldKept = stamp(40);
    await train('SOLUSDT', 0.4, 3, oldKept); // v3
    await train('SOLUSDT', 0.4, 1.5); // v4
    const pruned5 = await train('SOLUSDT', 0.4, 0.5);
    const pruned6 = await train('SOLUSDT', 0.4, 1);
    expect((await call('POST', '/models/SOLUSDT/rollback', { version: 1 })).status).toBe(200);

    const checkpoint = `${oldKept}/checkpoints/epoch-3.pt`;
    await store.put(`models/SOLUSDT/${checkpoint}`, 'checkpoint bytes '.repeat(50));
    const abandoned = `models/SOLUSDT/${stamp(100)}`;
    await store.put(`${abandoned}/checkpoints/epoch-1.pt`, 'never finished');
    await store.put(`${abandoned}/train.log`, 'crashed');
    const youngAbandoned = `models/SOLUSDT/${stamp(50)}/train.log`;
    await store.put(youngAbandoned, 'crashed recently');
    const productionBefore = await store.list('models/production/');

    const report = await call('POST', '/retention/run');
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ versionsPruned: 2, checkpointsArchived: 1, abandonedDeleted: 1, quotaBytes: 1000 });
    const bytesUsed = (await store.list('')).reduce((sum, a) => sum + a.bytes, 0);
    expect(report.body.bytesUsed).toBe(bytesUsed);
    expect(report.body.usedFraction).toBeCloseTo(bytesUsed / 1000);
    const warnings = (await readStored(prefix, 'storage.quota_warning')).map((e) => e.data);
    expect(warnings).toEqual([expect.objectContaining({ bytesUsed, quotaBytes: 1000 })]);

    expect(await stages('SOLUSDT')).toEqual(['v1:production', 'v2:archived', 'v3:candidate', 'v4:candidate', 'v5:archived', 'v6:archived']);
    const prunedAt: { version: number }[] = await ds.query(`SELECT version FROM promoter.model_versions WHERE symbol = 'SOLUSDT' AND pruned_at IS NOT NULL ORDER BY version`);
    expect(prunedAt.map((r) => r.version)).toEqual([5, 6]);
    expect(await store.list(`${pruned5}/`)).toEqual([]);
    expect(await store.list(`${pruned6}/`)).toEqual([]);
    for (const v of await ds.query(`SELECT artifacts_prefix AS p FROM promoter.model_versions WHERE symbol = 'SOLUSDT' AND version <= 4`)) {
      expect((await store.list(`${v.p}/`)).map((a) => a.key)).toEqual(expect.arrayContaining([`${v.p}/model.bin`, `${v.p}/metrics.json`]));
    }
    expect(await store.list('models/production/')).toEqual(productionBefore);
    expect((await pointer('SOLUSDT')).version).toBe(1);

    expect(await store.exists(`models/SOLUSDT/${checkpoint}`)).toBe(false);
    expect(gunzipSync(await store.get(`archive/models/SOLUSDT/${checkpoint}.gz`)).toString()).toBe('checkpoint bytes '.repeat(50));
    expect(await store.list(`${abandoned}/`)).toEqual([]);
    expect(await store.exists(youngAbandoned)).toBe(true);

    expect((await call('POST', '/retention/run')).body).toMatchObject({ versionsPruned: 0, checkpointsArchived: 0, abandonedDeleted: 0 });
  });

  it('lists, shows and compares versions', async () => {
    const page = await call('GET', '/models?symbol=BTCUSDT');
    expect(page.body).toMatchObject({ total: 3, limit: 50, offset: 0 });
    expect(page.body.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect((await call('GET', '/models?symbol=BTCUSDT&limit=1&offset=1')).body.items.map((v: { version: number }) => v.version)).toEqual([2]);
    expect((await call('GET', '/models?stage=production')).body.items.map((v: { symbol: string }) => v.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);

    const shown = await call('GET', '/models/BTCUSDT/1');
    expect(shown.body).toMatchObject({ symbol: 'BTCUSDT', version: 1, stage: 'production' });
    expect(shown.body.decisions.map((d: { rule: string }) => d.rule)).toEqual(['no_production', 'manual_rollback']);

    const compared = await call('GET', '/models/SOLUSDT/compare?a=1&b=3');
    expect(compared.body).toMatchObject({ symbol: 'SOLUSDT', a: { version: 1, stage: 'production' }, b: { version: 3 }, sameEvaluation: true });
    expect(compared.body.metrics.sharpe).toEqual({ a: -2, b: 3, difference: 5 });
    expect(compared.body.metrics.directionalHitRate.difference).toBeCloseTo(-0.1);
  });

  it('refuses bad input with the field and the reason, and unknown versions with 404', async () => {
    const query = await call('GET', '/models?stage=bogus&limit=0');
    expect(query.status).toBe(400);
    expect(query.body.issues.map((i: { field: string }) => i.field).sort()).toEqual(['limit', 'stage']);
    expect((await call('GET', '/models/btcusdt/1')).status).toBe(400);
    expect((await call('GET', '/models/BTCUSDT/zero')).status).toBe(400);
    expect((await call('GET', '/models/BTCUSDT/compare?a=1')).body.issues).toEqual([expect.objectContaining({ field: 'b' })]);
    const body = await call('POST', '/models/BTCUSDT/rollback', { version: 'one', colour: 'red' });
    expect(body.status).toBe(400);
    expect(body.body.issues.map((i: { field: string }) => i.field)).toEqual(expect.arrayContaining(['version', '(root)']));
    expect((await call('POST', '/models/BTCUSDT/promote', {})).body.issues).toEqual([expect.objectContaining({ field: 'version' })]);

    expect((await call('GET', '/models/BTCUSDT/99')).status).toBe(404);
    expect((await call('GET', '/models/DOGEUSDT/1')).status).toBe(404);
    expect((await call('GET', '/models/BTCUSDT/compare?a=1&b=99')).status).toBe(404);
    expect((await call('POST', '/models/BTCUSDT/promote', { version: 99 })).status).toBe(404);
  });

  it('serves its OpenAPI document', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/models', '/models/{symbol}/{version}', '/models/{symbol}/compare', '/models/{symbol}/rollback', '/models/{symbol}/promote', '/retention/run']),
    );
    expect(doc.body.paths['/models/{symbol}/promote'].post.requestBody.content['application/json'].schema.required).toEqual(['version']);
  });

  it('answers a rollback retried with the same Idempotency-Key with what the first did, without going back further', async () => {
    await train('ADAUSDT', 0.5);
    await train('ADAUSDT', 0.55);
    await train('ADAUSDT', 0.6);
    const key = { 'idempotency-key': 'rollback-ada-2026-11-30' };
    const first = await call('POST', '/models/ADAUSDT/rollback', undefined, key);
    expect(first.body).toMatchObject({ version: 2, fromVersion: 3 });
    const retried = await call('POST', '/models/ADAUSDT/rollback', undefined, key);
    expect(retried).toMatchObject({ status: 200, body: { version: 2, fromVersion: 3, decision: { id: first.body.decision.id } } });
    expect(await stages('ADAUSDT')).toEqual(['v1:archived', 'v2:production', 'v3:archived']);
    expect(await published('model.rolled_back', 'ADAUSDT')).toHaveLength(1);
    const bad = await call('POST', '/models/ADAUSDT/rollback', undefined, { 'idempotency-key': 'no spaces allowed' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/Idempotency-Key/);
  });
});
