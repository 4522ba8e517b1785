import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EventMessage, Metrics, Specialist } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { PromoterQueries } from '../commands/promoter-queries';
import { pointerKey, type ProductionPointer } from '../promotion/production-artifacts.service';
import { PromotionController } from '../promotion/promotion.controller';
import { RetentionService } from '../retention/retention.service';
import { answerAsScheduler } from './scheduler-record.fixture';

jest.setTimeout(60_000);

const metrics = (directionalHitRate: number, sharpe: number): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });

describe('the registry key is symbol + variant (real PostgreSQL, NATS, local artifact folder)', () => {
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'key' });
  const { prefix } = svc;
  let app: INestApplication;
  let handler: PromotionController;
  let store: ArtifactStore;
  let ds: DataSource;
  let bus: NatsBus;

  beforeAll(async () => {
    app = await svc.start({ RETENTION_KEEP_TOP: '1' });
    handler = app.get(PromotionController);
    bus = app.get(NatsBus);
    await answerAsScheduler(bus, new Map());
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

  /** A success of BTCUSDT's plain model (no variant) or of one of its specialists, run `run`. */
  async function succeed(run: number, variant: Specialist | null, hitRate: number, sharpe: number): Promise<void> {
    const jobId = `daily-2026112${run}-BTCUSDT${variant ? `-${variant}` : ''}`;
    const event: EventMessage<'job.succeeded'> = { ...(await trainedJob({ store, symbol: 'BTCUSDT', jobId, metrics: metrics(hitRate, sharpe) })), ...(variant ? { variant } : {}) };
    await handler.onJobSucceeded(event);
  }
  const versions = (variant: string): Promise<{ version: number; stage: string; pruned: boolean }[]> =>
    ds.query(`SELECT version, stage, pruned_at IS NOT NULL AS pruned FROM promoter.model_versions WHERE symbol = 'BTCUSDT' AND variant = $1 ORDER BY version`, [variant]);
  const decisions = (variant: string): Promise<{ outcome: string; rule: string; production_version: number | null }[]> =>
    ds.query(`SELECT outcome, rule, production_version FROM promoter.decisions WHERE symbol = 'BTCUSDT' AND variant = $1 ORDER BY id`, [variant]);
  const pointer = async (variant?: Specialist): Promise<ProductionPointer> => JSON.parse((await store.get(pointerKey('BTCUSDT', variant))).toString());

  it('numbers, decides and promotes each variant apart, a specialist compared only with its own production', async () => {
    await succeed(1, null, 0.6, 1.0);
    // Worse than the plain model's production, better than nothing of its own: promoted.
    await succeed(1, 'bull', 0.55, 3.0);
    await succeed(1, 'bear', 0.52, 0.5);
    // Better than the bull's production, worse than the plain model's: promoted.
    await succeed(2, 'bull', 0.58, 2.5);
    // Worse than the plain production, better than every specialist: rejected.
    await succeed(2, null, 0.59, 0.9);
    await succeed(3, null, 0.58, 1.5);

    expect(await versions('default')).toEqual([
      { version: 1, stage: 'production', pruned: false },
      { version: 2, stage: 'candidate', pruned: false },
      { version: 3, stage: 'candidate', pruned: false },
    ]);
    expect(await versions('bull')).toEqual([
      { version: 1, stage: 'archived', pruned: false },
      { version: 2, stage: 'production', pruned: false },
    ]);
    expect(await versions('bear')).toEqual([{ version: 1, stage: 'production', pruned: false }]);
    expect(await decisions('bull')).toEqual([
      { outcome: 'promote', rule: 'no_production', production_version: null },
      { outcome: 'promote', rule: 'higher_hit_rate', production_version: 1 },
    ]);
    expect((await decisions('default')).map((d) => [d.outcome, d.production_version])).toEqual([
      ['promote', null],
      ['reject', 1],
      ['reject', 1],
    ]);

    // The plain model's production stays where it always was; a specialist's sits in a folder of its own.
    expect(await pointer()).toMatchObject({ symbol: 'BTCUSDT', version: 1, prefix: 'models/production/BTCUSDT/v1' });
    expect(await pointer()).not.toHaveProperty('variant');
    expect(await pointer('bull')).toMatchObject({ symbol: 'BTCUSDT', variant: 'bull', version: 2, prefix: 'models/production/BTCUSDT/bull/v2' });
    expect(await pointer('bear')).toMatchObject({ variant: 'bear', version: 1, prefix: 'models/production/BTCUSDT/bear/v1' });

    const promoted = (await readStored(prefix, 'model.promoted')).map((m) => m.data);
    expect(promoted.map((p) => [p.variant ?? 'default', p.version]).sort()).toEqual([
      ['bear', 1],
      ['bull', 1],
      ['bull', 2],
      ['default', 1],
    ]);
    const view = await app.get(PromoterQueries).versions('BTCUSDT', 10, 'bull');
    expect(view).toMatchObject({ symbol: 'BTCUSDT', variant: 'bull', total: 2 });
    expect(view.versions.map((v) => [v.variant, v.version])).toEqual([
      ['bull', 2],
      ['bull', 1],
    ]);
  });

  it('keeps the top K of each variant: a specialist with a higher Sharpe does not push the plain model out', async () => {
    await app.get(RetentionService).run();
    // Plain: v1 is production, v3 the best other by Sharpe (1.5, below both bull versions), v2 goes.
    expect((await versions('default')).map((v) => [v.version, v.pruned])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    // Bull: v2 is production, v1 the previous production (the first rollback target).
    expect((await versions('bull')).every((v) => !v.pruned)).toBe(true);
  });

  it("rolls one specialist back by command, leaving the plain model's and the others' production alone", async () => {
    const requestedBy = 'telegram:1';
    await bus.publish('model.rollback', { symbol: 'BTCUSDT', variant: 'bull', requestedBy }, { id: 'rollback-bull' });
    const result = await waitFor(async () => (await readStored(prefix, 'command.result')).map((m) => m.data).find((r) => r.commandId === 'rollback-bull'), 'the rollback command result');
    expect(result).toMatchObject({ ok: true, message: 'BTCUSDT/bull rolled back to v1 (was v2)' });
    expect((await versions('bull')).map((v) => v.stage)).toEqual(['production', 'archived']);
    expect(await pointer('bull')).toMatchObject({ variant: 'bull', version: 1 });
    expect((await versions('default')).map((v) => v.stage)).toEqual(['production', 'archived', 'candidate']);
    expect(await pointer()).toMatchObject({ version: 1 });
    expect(await pointer('bear')).toMatchObject({ version: 1 });
    const rolledBack = (await readStored(prefix, 'model.rolled_back')).map((m) => m.data);
    expect(rolledBack).toEqual([expect.objectContaining({ symbol: 'BTCUSDT', variant: 'bull', version: 1, fromVersion: 2 })]);

    await bus.publish('model.rollback', { symbol: 'BTCUSDT', variant: 'bear', requestedBy }, { id: 'rollback-bear' });
    const refused = await waitFor(async () => (await readStored(prefix, 'command.result')).map((m) => m.data).find((r) => r.commandId === 'rollback-bear'), 'the bear rollback result');
    expect(refused).toMatchObject({ ok: false, message: expect.stringContaining('BTCUSDT/bear has no earlier production version') });
  });
});
