import { gunzipSync } from 'node:zlib';
import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EventMessage, Metrics, Specialist } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { pointerKey } from '../promotion/production-artifacts.service';
import { PromotionController } from '../promotion/promotion.controller';
import { RegistrationService } from '../registry/registration.service';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';
import { RetentionService } from './retention.service';

jest.setTimeout(90_000);

const DAY_MS = 24 * 60 * 60 * 1000;
const metrics = (directionalHitRate: number, sharpe: number): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });
/** The trainer's attempt folder name for a start at `at`: `YYYYMMDD_HHMMSSZ`. */
const stamp = (at: number) => {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}_${iso.slice(11, 19).replaceAll(':', '')}Z`;
};

/** The promoter's clock, set by the test: retention's cut-offs move with it, not with the wall clock. */
class SetClock extends Clock {
  at = Date.parse('2026-12-01T00:00:00Z');
  override now(): Date {
    return new Date(this.at);
  }
}

/** The promoter on its own clock; the test hands each job.succeeded to the controller itself, so no transport. */
const promoter = (prefix: string, clock: Clock) => new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix, transport: false, overrides: [{ provide: Clock, useValue: clock }] });

async function boot(svc: TestService<typeof promoterEnv>, vars: Record<string, string>): Promise<INestApplication> {
  const app = await svc.start(vars);
  await answerAsScheduler(app.get(NatsBus), new Map());
  return app;
}

/**
 * RetentionService on real PostgreSQL and NATS, artifacts in a local folder, its clock set by the
 * test: top K by Sharpe per symbol and variant, old checkpoints archived, old abandoned attempts
 * deleted, the quota report and warning, and production's files left alone.
 */
describe('RetentionService (RETENTION_KEEP_TOP=1, checkpoints 30 days, abandoned 90 days, quota 0.001 GB)', () => {
  const clock = new SetClock();
  const svc = promoter('pret', clock);
  const { prefix } = svc;
  let app: INestApplication;
  let retention: RetentionService;
  let store: ArtifactStore;
  let ds: DataSource;
  let jobs = 0;

  beforeAll(async () => {
    app = await boot(svc, {
      RETENTION_KEEP_TOP: '1',
      RETENTION_CHECKPOINT_ARCHIVE_DAYS: '30',
      RETENTION_ABANDONED_DAYS: '90',
      STORAGE_QUOTA_GB: '0.001',
    });
    retention = app.get(RetentionService);
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

  /** A success as the trainer uploads it, in an attempt folder started at `startedAt` (default: now, a second apart per job). */
  async function succeeded(symbol: string, hitRate: number, sharpe: number, opts: { variant?: Specialist; startedAt?: number; tag?: string } = {}): Promise<EventMessage<'job.succeeded'>> {
    const n = ++jobs;
    const folder = `models/${symbol}/${stamp(opts.startedAt ?? clock.at - DAY_MS + n * 1000)}${opts.tag ? `_${opts.tag}` : ''}`;
    const event = await trainedJob({ store, symbol, jobId: `daily-20261130-${symbol}-${n}`, metrics: metrics(hitRate, sharpe), artifactsPrefix: folder });
    return opts.variant ? { ...event, variant: opts.variant } : event;
  }
  /** Registered and decided, as the promoter does on job.succeeded. */
  const train = async (...args: Parameters<typeof succeeded>) => {
    const event = await succeeded(...args);
    await app.get(PromotionController).onJobSucceeded(event);
    return event.artifactsPrefix;
  };
  const rows = async (symbol: string, variant = 'default') =>
    (
      (await ds.query(`SELECT version, stage, pruned_at AS "prunedAt" FROM promoter.model_versions WHERE symbol = $1 AND variant = $2 ORDER BY version`, [symbol, variant])) as {
        version: number;
        stage: string;
        prunedAt: Date | null;
      }[]
    ).map((r) => `v${r.version}:${r.stage}${r.prunedAt ? `:pruned@${r.prunedAt.toISOString()}` : ''}`);
  const keys = async (under: string) => (await store.list(under)).map((a) => a.key);
  const bytesUsed = async () => (await store.list('')).reduce((sum, a) => sum + a.bytes, 0);
  const warnings = async () => (await readStored(prefix, 'storage.quota_warning')).map((m) => m.data);

  it('keeps the top K by Sharpe per symbol and per variant besides production, previous production and undecided versions; production copies stay', async () => {
    const btc = [
      await train('BTCUSDT', 0.5, -2), // v1: first production, later two back
      await train('BTCUSDT', 0.55, -1), // v2: production, then previous production
      await train('BTCUSDT', 0.6, -0.5), // v3: production, the lowest Sharpe but one
      await train('BTCUSDT', 0.4, 3), // v4: rejected, the top Sharpe
      await train('BTCUSDT', 0.4, 1), // v5: rejected
    ];
    // v6: registered, its decision not made yet (Sharpe above v5's, below v4's).
    const undecided = await succeeded('BTCUSDT', 0.4, 2);
    await app.get(RegistrationService).register(undecided, { promote: 'auto', canary: false });
    const bull = [
      await train('BTCUSDT', 0.5, 0.1, { variant: 'bull' }), // production of the specialist
      await train('BTCUSDT', 0.4, 0.3, { variant: 'bull' }), // its own top Sharpe, far below the plain model's
      await train('BTCUSDT', 0.4, 0.2, { variant: 'bull' }),
    ];
    const eth = [await train('ETHUSDT', 0.5, 0.1), await train('ETHUSDT', 0.4, 0.2), await train('ETHUSDT', 0.4, 0.15)];
    expect(await rows('BTCUSDT')).toEqual(['v1:archived', 'v2:archived', 'v3:production', 'v4:candidate', 'v5:candidate', 'v6:candidate']);
    const production = await store.list('models/production/');
    expect(production.map((a) => a.key)).toEqual(expect.arrayContaining(['models/production/BTCUSDT/v1/model.bin', 'models/production/BTCUSDT/bull/v1/model.bin', pointerKey('ETHUSDT')]));

    clock.at += 60_000;
    const pruned = `pruned@${new Date(clock.at).toISOString()}`;
    expect(await retention.run()).toMatchObject({ versionsPruned: 4, checkpointsArchived: 0, abandonedDeleted: 0 });

    expect(await rows('BTCUSDT')).toEqual(['v1:archived:' + pruned, 'v2:archived', 'v3:production', 'v4:candidate', 'v5:archived:' + pruned, 'v6:candidate']);
    expect(await rows('BTCUSDT', 'bull')).toEqual(['v1:production', 'v2:candidate', 'v3:archived:' + pruned]);
    expect(await rows('ETHUSDT')).toEqual(['v1:production', 'v2:candidate', 'v3:archived:' + pruned]);
    for (const gone of [btc[0], btc[4], bull[2], eth[2]]) expect(await keys(`${gone}/`)).toEqual([]);
    for (const kept of [btc[1], btc[2], btc[3], undecided.artifactsPrefix, bull[0], bull[1], eth[0], eth[1]]) expect(await keys(`${kept}/`)).toEqual([`${kept}/metrics.json`, `${kept}/model.bin`]);
    // v1's trainer files are gone; its production copy, from which a rollback could restore it, is not.
    expect(await store.list('models/production/')).toEqual(production);

    // Pruned versions are not counted again, and nothing else is due.
    expect(await retention.run()).toMatchObject({ versionsPruned: 0, checkpointsArchived: 0, abandonedDeleted: 0 });
  });

  it('archives checkpoints older than RETENTION_CHECKPOINT_ARCHIVE_DAYS into archive/, gzipped, and keeps everything else', async () => {
    const started = clock.at;
    const registered = await train('SOLUSDT', 0.5, 1, { startedAt: started });
    const checkpoint = `${registered}/checkpoints/epoch-3.pt`;
    const nested = `${registered}/checkpoints/best/epoch-2.pt`;
    await store.put(checkpoint, 'checkpoint bytes '.repeat(40));
    await store.put(nested, 'best checkpoint');
    await store.put(`${registered}/train.log`, 'epoch 3 done');
    const production = await store.list('models/production/');

    clock.at = started + 30 * DAY_MS; // exactly 30 days: not older than the limit yet
    expect(await retention.run()).toMatchObject({ checkpointsArchived: 0 });
    expect(await keys('archive/')).toEqual([]);

    clock.at += 1000;
    expect(await retention.run()).toMatchObject({ versionsPruned: 0, checkpointsArchived: 2, abandonedDeleted: 0 });
    expect(await keys(`${registered}/`)).toEqual([`${registered}/metrics.json`, `${registered}/model.bin`, `${registered}/train.log`]);
    expect(await keys('archive/')).toEqual([`archive/${nested}.gz`, `archive/${checkpoint}.gz`]);
    expect(gunzipSync(await store.get(`archive/${checkpoint}.gz`)).toString()).toBe('checkpoint bytes '.repeat(40));
    expect(gunzipSync(await store.get(`archive/${nested}.gz`)).toString()).toBe('best checkpoint');
    expect(await store.list('models/production/')).toEqual(production);

    expect(await retention.run()).toMatchObject({ checkpointsArchived: 0 });
    expect(await keys('archive/')).toHaveLength(2);
  });

  it('deletes attempt folders no version was registered from after RETENTION_ABANDONED_DAYS, not archiving their checkpoints; registered folders stay', async () => {
    const now = clock.at;
    const old = `models/ADAUSDT/${stamp(now - 90 * DAY_MS - 1000)}`;
    await store.put(`${old}/checkpoints/epoch-1.pt`, 'never finished');
    await store.put(`${old}/train.log`, 'crashed');
    const boundary = `models/ADAUSDT/${stamp(now - 90 * DAY_MS)}`;
    await store.put(`${boundary}/train.log`, 'crashed on the day');
    // Two attempts of the same second, told apart by their tags: only the one that succeeded is registered.
    const sameSecond = now - 200 * DAY_MS;
    const registered = await train('ADAUSDT', 0.5, 1, { startedAt: sameSecond, tag: 'a1-0123abcd' });
    const sibling = `models/ADAUSDT/${stamp(sameSecond)}_a2-4567cdef`;
    await store.put(`${sibling}/train.log`, 'lost the lease');
    // Not an attempt folder: production copies are never read as one, however they are named.
    const lookalike = `models/production/${stamp(now - 400 * DAY_MS)}/checkpoints/epoch-1.pt`;
    await store.put(lookalike, 'not an attempt');
    const production = await store.list('models/production/');

    expect(await retention.run()).toMatchObject({ versionsPruned: 0, checkpointsArchived: 0, abandonedDeleted: 2 });
    expect(await keys(`${old}/`)).toEqual([]);
    expect(await keys(`archive/${old}/`)).toEqual([]);
    expect(await keys(`${sibling}/`)).toEqual([]);
    expect(await keys(`${boundary}/`)).toEqual([`${boundary}/train.log`]);
    expect(await keys(`${registered}/`)).toEqual([`${registered}/metrics.json`, `${registered}/model.bin`]);
    expect(await store.list('models/production/')).toEqual(production);

    clock.at += 1000;
    expect(await retention.run()).toMatchObject({ abandonedDeleted: 1 });
    expect(await keys(`${boundary}/`)).toEqual([]);
    expect(await keys(`${registered}/`)).toEqual([`${registered}/metrics.json`, `${registered}/model.bin`]);
    expect(await store.exists(lookalike)).toBe(true);
    expect(await store.list('models/production/')).toEqual(production);
  });

  it('reports usage against STORAGE_QUOTA_GB and publishes storage.quota_warning from 80%, once per hour', async () => {
    const quotaBytes = 1_000_000;
    const below = await retention.run();
    expect(below).toEqual({ bytesUsed: await bytesUsed(), quotaBytes, usedFraction: below.bytesUsed / quotaBytes, versionsPruned: 0, checkpointsArchived: 0, abandonedDeleted: 0 });
    expect(below.usedFraction).toBeLessThan(0.8);

    // Outside models/, where retention never deletes: one byte short of 80%.
    await store.put('scratch/filler.bin', Buffer.alloc(800_000 - 1 - (await bytesUsed())));
    expect(await retention.run()).toMatchObject({ bytesUsed: 799_999, quotaBytes });
    expect(await warnings()).toEqual([]);

    await store.put('scratch/one-more.bin', Buffer.alloc(1));
    expect(await retention.run()).toMatchObject({ bytesUsed: 800_000, quotaBytes, usedFraction: 0.8 });
    const hour = new Date(clock.at).toISOString().slice(0, 13);
    const [first] = await readStored(prefix, 'storage.quota_warning');
    expect(first?.data).toMatchObject({ id: `quota-warning-${hour}`, bytesUsed: 800_000, quotaBytes, usedFraction: 0.8 });

    // Within the same hour of the clock: the same id, so the stream keeps one warning.
    clock.at += 30 * 60_000;
    expect(new Date(clock.at).toISOString().slice(0, 13)).toBe(hour);
    await retention.run();
    expect(await warnings()).toHaveLength(1);

    clock.at += 60 * 60_000;
    await retention.run();
    expect((await warnings()).map((w) => w.id)).toEqual([`quota-warning-${hour}`, `quota-warning-${new Date(clock.at).toISOString().slice(0, 13)}`]);
  });

  it('runs one pass at a time: a request during a pass gets that pass', async () => {
    const first = retention.run();
    expect(retention.run()).toBe(first);
    const report = await first;
    const next = retention.run();
    expect(next).not.toBe(first);
    expect(await next).toEqual(report);
  });
});

describe('RetentionService without STORAGE_QUOTA_GB', () => {
  const svc = promoter('pretnq', new SetClock());
  const { prefix } = svc;
  let app: INestApplication;

  beforeAll(async () => {
    app = await boot(svc, {});
  });

  afterAll(() => svc.close());

  it('reports the bytes used with no quota or fraction, and never warns', async () => {
    const store = app.get<ArtifactStore>(ARTIFACT_STORE);
    await store.put('scratch/big.bin', Buffer.alloc(50_000));
    expect(await app.get(RetentionService).run()).toEqual({ bytesUsed: 50_000, quotaBytes: null, usedFraction: null, versionsPruned: 0, checkpointsArchived: 0, abandonedDeleted: 0 });
    expect(await readStored(prefix, 'storage.quota_warning')).toEqual([]);
  });
});
