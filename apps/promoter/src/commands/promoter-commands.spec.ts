import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Metrics } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { PromotionController } from '../promotion/promotion.controller';
import { PromoterCommandsController } from './promoter-commands.controller';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';

jest.setTimeout(60_000);

const metrics = (directionalHitRate: number, sharpe: number): Metrics => ({ directionalHitRate, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });

/** The promoter's bus commands and queries, on real NATS, PostgreSQL and a local store. */
describe('promoter commands and queries over the bus', () => {
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'pcmd' });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let store: ArtifactStore;
  let jobs = 0;

  beforeAll(async () => {
    app = await svc.start();
    bus = app.get(NatsBus);
    await answerAsScheduler(bus, new Map());
    store = app.get(ARTIFACT_STORE);
    for (const [hitRate, sharpe] of [
      [0.5, 0.4],
      [0.55, 1.1],
      [0.52, 0.9],
    ] as const) {
      const jobId = `daily-20261122-BTCUSDT-${++jobs}`;
      await app.get(PromotionController).onJobSucceeded(await trainedJob({ store, symbol: 'BTCUSDT', jobId, metrics: metrics(hitRate, sharpe), artifactsPrefix: `models/BTCUSDT/attempt-${jobs}` }));
    }
  });

  afterAll(() => svc.close());

  const result = (commandId: string) => waitFor(async () => (await readStored(prefix, 'command.result')).map((e) => e.data).find((d) => d.commandId === commandId), `the result of ${commandId}`);

  it("lists a symbol's versions newest first, with stage, metrics and the decision", async () => {
    const answer = await bus.query('models.versions', { symbol: 'BTCUSDT' });
    expect(answer.total).toBe(3);
    expect(answer.versions.map((v) => [v.version, v.stage, v.metrics.sharpe, v.decision?.rule, v.decision?.productionVersion])).toEqual([
      [3, 'candidate', 0.9, 'lower_hit_rate', 2],
      [2, 'production', 1.1, 'higher_hit_rate', 1],
      [1, 'archived', 0.4, 'no_production', null],
    ]);
    expect(answer.versions[0]).toMatchObject({ artifactsPrefix: 'models/BTCUSDT/attempt-3', pruned: false, runId: 'daily-20261122' });
    expect((await bus.query('models.versions', { symbol: 'ETHUSDT' })).versions).toEqual([]);
  });

  it("gives a run's versions with the production version each was compared with", async () => {
    const { versions } = await bus.query('models.of_run', { runId: 'daily-20261122' });
    expect(versions.map((v) => [v.version, v.baseline?.version ?? null, v.baseline?.artifactsPrefix ?? null])).toEqual([
      [1, null, null],
      [2, 1, 'models/BTCUSDT/attempt-1'],
      [3, 2, 'models/BTCUSDT/attempt-2'],
    ]);
  });

  it('rolls back and promotes by command, and answers a refusal with its reason', async () => {
    const rollback = await bus.publish('model.rollback', { symbol: 'BTCUSDT', requestedBy: 'telegram:42' });
    expect(await result(rollback.id)).toMatchObject({ command: 'model.rollback', ok: true, message: 'BTCUSDT rolled back to v1 (was v2)', requestedBy: 'telegram:42' });
    const rolledBack = await waitFor(async () => (await readStored(prefix, 'model.rolled_back')).find((e) => e.data.symbol === 'BTCUSDT'), 'model.rolled_back');
    expect(rolledBack.data).toMatchObject({ version: 1, fromVersion: 2, reason: 'rolled back by telegram:42' });

    const promote = await bus.publish('model.promote', { symbol: 'BTCUSDT', version: 3, reason: 'better live', requestedBy: 'telegram:42' });
    expect(await result(promote.id)).toMatchObject({ ok: true, message: 'BTCUSDT v3 is in production (was v1)' });
    expect((await bus.query('models.versions', { symbol: 'BTCUSDT' })).versions.map((v) => v.stage)).toEqual(['production', 'archived', 'archived']);

    const again = await bus.publish('model.promote', { symbol: 'BTCUSDT', version: 3, requestedBy: 'telegram:42' });
    expect(await result(again.id)).toMatchObject({ ok: false, message: 'BTCUSDT v3 is already in production' });
    const missing = await bus.publish('model.promote', { symbol: 'BTCUSDT', version: 9, requestedBy: 'telegram:42' });
    expect(await result(missing.id)).toMatchObject({ ok: false, message: 'BTCUSDT has no version 9' });

    // A version never in production has no production copy to fall back on.
    const event = await trainedJob({ store, symbol: 'BTCUSDT', jobId: 'daily-20261122-BTCUSDT-4', metrics: metrics(0.4, 0.1), artifactsPrefix: 'models/BTCUSDT/attempt-4' });
    await app.get(PromotionController).onJobSucceeded(event);
    await store.put('models/BTCUSDT/attempt-4/model.bin', 'swapped after training');
    const tampered = await bus.publish('model.promote', { symbol: 'BTCUSDT', version: 4, requestedBy: 'telegram:42' });
    expect(await result(tampered.id)).toMatchObject({ ok: false, message: expect.stringMatching(/^BTCUSDT v4 refused \(checksum_mismatch\)/) });
  });

  it('applies a rollback command once however often it is delivered (a redelivery after its event could not be published)', async () => {
    for (const [i, hitRate] of [0.5, 0.6].entries()) {
      const jobId = `daily-20261122-SOLUSDT-${i + 1}`;
      await app.get(PromotionController).onJobSucceeded(await trainedJob({ store, symbol: 'SOLUSDT', jobId, metrics: metrics(hitRate, 1), artifactsPrefix: `models/SOLUSDT/attempt-${i + 1}` }));
    }
    const stages = async () => (await bus.query('models.versions', { symbol: 'SOLUSDT' })).versions.map((v) => [v.version, v.stage]);
    expect(await stages()).toEqual([
      [2, 'production'],
      [1, 'archived'],
    ]);
    const command = { id: 'cmd-sol-rollback-1', schemaVersion: 1 as const, occurredAt: new Date().toISOString(), symbol: 'SOLUSDT', requestedBy: 'telegram:42' };
    const commands = app.get(PromoterCommandsController);
    await commands.onRollback(command);
    expect(await stages()).toEqual([
      [2, 'archived'],
      [1, 'production'],
    ]);
    await commands.onRollback(command);
    expect(await stages()).toEqual([
      [2, 'archived'],
      [1, 'production'],
    ]);
    const results = (await readStored(prefix, 'command.result')).map((e) => e.data).filter((d) => d.commandId === command.id);
    expect(results).toEqual([expect.objectContaining({ ok: true, message: 'SOLUSDT rolled back to v1 (was v2)' })]);
  });

  it('answers for a 5,000-symbol run in one message: every decision counted, promoted and refused versions listed first', async () => {
    const ds = app.get(DataSource);
    const m = JSON.stringify(metrics(0.55, 1.2));
    // Version 1 of each symbol is production; version 2, of the run, was decided against it: one in ten promoted.
    await ds.query(
      `INSERT INTO promoter.model_versions (symbol, variant, version, run_id, job_id, attempt, promote, canary, artifacts_prefix, artifacts, metrics, featureset, costs, evaluation_window, stage)
       SELECT 'S' || i || 'USDT', 'default', v, CASE v WHEN 1 THEN 'old-run' ELSE 'big-run' END, CASE v WHEN 1 THEN 'old-run-S' ELSE 'big-run-S' END || i, 1, 'auto', false,
              'models/S' || i || 'USDT/attempt-' || v, '[]', $1::jsonb, 'ohlcv', '{}', '{}', CASE v WHEN 1 THEN 'production' ELSE 'candidate' END
       FROM generate_series(1, 5000) AS i, generate_series(1, 2) AS v`,
      [m],
    );
    await ds.query(
      `INSERT INTO promoter.decisions (version_id, symbol, variant, outcome, rule, mode, applied, reason, candidate_metrics, production_version, production_metrics)
       SELECT id, symbol, variant, CASE WHEN id % 10 = 0 THEN 'promote' ELSE 'reject' END, CASE WHEN id % 10 = 0 THEN 'higher_hit_rate' ELSE 'lower_hit_rate' END,
              'auto', id % 10 = 0, 'hit rate 0.5500 against production 0.5500, Sharpe 1.20 against 1.20', $1::jsonb, 1, $1::jsonb
       FROM promoter.model_versions WHERE run_id = 'big-run'`,
      [m],
    );
    const promoted = Number((await ds.query(`SELECT count(*) AS n FROM promoter.model_versions WHERE run_id = 'big-run' AND id % 10 = 0`))[0].n);

    const answer = await bus.query('models.of_run', { runId: 'big-run' }, 20_000);
    expect(answer).toMatchObject({ total: 5000, decided: 5000, outcomes: { promoted, wouldPromote: 0, rejected: 5000 - promoted, notComparable: 0, skipped: 0 } });
    expect(answer.omitted).toBeGreaterThan(0);
    expect(answer.versions.length + answer.omitted).toBe(5000);
    expect(JSON.stringify(answer).length).toBeLessThan(bus.maxPayload);
    // Every promoted version is listed, with the production version it beat; the refused fill the rest.
    const listed = answer.versions.filter((v) => v.decision?.outcome === 'promote');
    expect(listed).toHaveLength(promoted);
    expect(listed.every((v) => v.baseline?.version === 1 && v.baseline.stage === 'production')).toBe(true);
    const symbols = answer.versions.map((v) => v.symbol);
    expect(symbols).toEqual([...symbols].sort());
  });
});
