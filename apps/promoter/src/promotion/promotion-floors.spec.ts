import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { loadConfig } from '@trainyard/config';
import type { Metrics } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { createTestDatabase, deleteTestStream, readStored, testNatsUrl, testPrefix, trainedJob, type TestDatabase } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { pointerKey } from './production-artifacts.service';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';
import { PromotionController } from './promotion.controller';

const metrics = (directionalHitRate: number, sharpe: number): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });

describe('promotion floors (real PostgreSQL and NATS, PROMOTER_MIN_SHARPE=0, PROMOTER_MIN_HIT_RATE=0.5)', () => {
  const prefix = testPrefix('floor');
  let db: TestDatabase;
  let dir: string;
  let app: TestingModule;
  let handler: PromotionController;
  let store: ArtifactStore;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'ty-floor-'));
    const config = loadConfig(promoterEnv, {
      DATABASE_URL: db.url,
      ARTIFACTS_DIR: dir,
      NATS_URL: testNatsUrl(),
      TRAINYARD_PREFIX: prefix,
      PROMOTER_MIN_SHARPE: '0',
      PROMOTER_MIN_HIT_RATE: '0.5',
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    moduleRef.useLogger(false);
    app = await moduleRef.init();
    handler = app.get(PromotionController);
    await answerAsScheduler(app.get(NatsBus), new Map());
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(async () => {
    await app.close();
    await deleteTestStream(prefix);
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a first model below the floors with the reason, then promotes the first one that clears them', async () => {
    await handler.onJobSucceeded(await trainedJob({ store, symbol: 'SOLUSDT', jobId: 'daily-20261129-SOLUSDT', metrics: metrics(0.47, -2.7) }));

    expect(await ds.query(`SELECT outcome, rule, reason FROM promoter.decisions WHERE symbol = 'SOLUSDT'`)).toEqual([
      { outcome: 'reject', rule: 'below_floor', reason: 'Sharpe -2.70 below the floor 0.00; hit rate 47.00% below the floor 50.00%' },
    ]);
    expect(await store.exists(pointerKey('SOLUSDT'))).toBe(false);
    const [rejected] = (await readStored(prefix, 'model.rejected')).map((m) => m.data);
    expect(rejected).toMatchObject({ symbol: 'SOLUSDT', version: 1, decision: { outcome: 'reject', rule: 'below_floor' } });

    await handler.onJobSucceeded(await trainedJob({ store, symbol: 'SOLUSDT', jobId: 'daily-20261130-SOLUSDT', metrics: metrics(0.52, 0.4) }));
    expect(await ds.query(`SELECT version, stage FROM promoter.model_versions WHERE symbol = 'SOLUSDT' ORDER BY version`)).toEqual([
      { version: 1, stage: 'candidate' },
      { version: 2, stage: 'production' },
    ]);
  });
});
