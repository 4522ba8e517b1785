import { DataSource } from 'typeorm';
import type { Metrics } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { pointerKey } from './production-artifacts.service';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';
import { PromotionController } from './promotion.controller';

const metrics = (directionalHitRate: number, sharpe: number): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });

describe('promotion floors (real PostgreSQL and NATS, PROMOTER_MIN_SHARPE=0, PROMOTER_MIN_HIT_RATE=0.5)', () => {
  // The test hands each job.succeeded to the controller itself, so no transport.
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'floor', transport: false });
  const { prefix } = svc;
  let handler: PromotionController;
  let store: ArtifactStore;
  let ds: DataSource;

  beforeAll(async () => {
    const app = await svc.start({ PROMOTER_MIN_SHARPE: '0', PROMOTER_MIN_HIT_RATE: '0.5' });
    handler = app.get(PromotionController);
    await answerAsScheduler(app.get(NatsBus), new Map());
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

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
