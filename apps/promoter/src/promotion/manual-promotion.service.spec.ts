import { ConflictException, HttpException, NotFoundException, type INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { EventMessage, Metrics, Specialist } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ARTIFACT_STORE, sha256Buffer, type ArtifactStore } from '@trainyard/storage';
import { readStored, TestService, trainedJob } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { promoterEnv } from '../config/promoter.config';
import { keyOf } from '../registry/model-key';
import { answerAsScheduler } from '../registry/scheduler-record.fixture';
import { ManualPromotionService } from './manual-promotion.service';
import { pointerKey, type ProductionPointer } from './production-artifacts.service';
import { PromotionController } from './promotion.controller';

jest.setTimeout(90_000);

const metrics = (directionalHitRate: number): Metrics => ({ directionalHitRate, sharpe: 1.1, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 });

/** The promoter's clock, set by the test, so promotedAt is known. */
class SetClock extends Clock {
  at = Date.parse('2026-12-01T09:00:00Z');
  override now(): Date {
    return new Date(this.at);
  }
}

/** What a refused call threw: the HTTP exception, status and message the REST API answers with. */
async function refusal(call: Promise<unknown>): Promise<{ type: string; status: number; message: string }> {
  const err: unknown = await call.then(
    () => {
      throw new Error('expected a refusal, got an answer');
    },
    (e: unknown) => e,
  );
  if (!(err instanceof HttpException)) throw err;
  return { type: err.constructor.name, status: err.getStatus(), message: err.message };
}

/**
 * ManualPromotionService on real PostgreSQL and NATS, artifacts in a local folder: promotion of a
 * named version, rollbacks, refusals, commands repeated, and the events it publishes.
 */
describe('ManualPromotionService (real PostgreSQL and NATS, local artifact store)', () => {
  const clock = new SetClock();
  // The test hands each job.succeeded to the controller itself, so no transport.
  const svc = new TestService({ env: promoterEnv, module: AppModule.forRoot, prefix: 'pman', transport: false, overrides: [{ provide: Clock, useValue: clock }] });
  const { prefix } = svc;
  let app: INestApplication;
  let manual: ManualPromotionService;
  let store: ArtifactStore;
  let ds: DataSource;
  let jobs = 0;

  beforeAll(async () => {
    app = await svc.start();
    await answerAsScheduler(app.get(NatsBus), new Map());
    manual = app.get(ManualPromotionService);
    store = app.get(ARTIFACT_STORE);
    ds = app.get(DataSource);
  });

  afterAll(() => svc.close());

  /** A success uploaded as the trainer does and handled by the promoter: registered and decided automatically. */
  async function train(symbol: string, hitRate: number, variant?: Specialist): Promise<EventMessage<'job.succeeded'>> {
    const event = await trainedJob({ store, symbol, jobId: `daily-20261130-${symbol}${variant ? `-${variant}` : ''}-${++jobs}`, metrics: metrics(hitRate) });
    const m = variant ? { ...event, variant } : event;
    await app.get(PromotionController).onJobSucceeded(m);
    return m;
  }
  const stages = async (symbol: string, variant = 'default') =>
    ((await ds.query(`SELECT version, stage FROM promoter.model_versions WHERE symbol = $1 AND variant = $2 ORDER BY version`, [symbol, variant])) as { version: number; stage: string }[]).map(
      (r) => `v${r.version}:${r.stage}`,
    );
  const pointer = async (symbol: string, variant?: Specialist): Promise<ProductionPointer> => JSON.parse((await store.get(pointerKey(symbol, variant))).toString());
  const published = async (event: string, symbol: string) => (await readStored(prefix, event)).map((m) => m.data).filter((d) => d.symbol === symbol);
  const decisionCount = async (symbol: string) => (await ds.query(`SELECT count(*)::int AS n FROM promoter.decisions WHERE symbol = $1`, [symbol]))[0].n as number;
  const sha = (event: EventMessage<'job.succeeded'>, name: string) => event.artifacts.find((a) => a.name === name)!.sha256;
  /** Everything a refusal must leave as it was. */
  const snapshot = async (symbol: string) => ({
    stages: await stages(symbol),
    pointer: (await store.get(pointerKey(symbol))).toString(),
    production: await store.list(`models/production/${symbol}/`),
    decisions: await decisionCount(symbol),
    promoted: (await published('model.promoted', symbol)).length,
    rolledBack: (await published('model.rolled_back', symbol)).length,
  });

  it('promotes a named version once its checksums are verified: production copy, CURRENT.json, stages, a manual_promote decision and model.promoted', async () => {
    const v1 = await train('BTCUSDT', 0.55);
    const v2 = await train('BTCUSDT', 0.5); // rejected: lower hit rate
    expect(await stages('BTCUSDT')).toEqual(['v1:production', 'v2:candidate']);
    clock.at += 3_600_000;
    const at = new Date(clock.at);

    const done = await manual.promote(keyOf('BTCUSDT'), 2, 'better in paper trading');

    const productionUri = store.uri(pointerKey('BTCUSDT'));
    expect(done).toEqual({
      symbol: 'BTCUSDT',
      variant: 'default',
      version: 2,
      fromVersion: 1,
      productionUri,
      decision: expect.objectContaining({
        symbol: 'BTCUSDT',
        variant: 'default',
        outcome: 'promote',
        rule: 'manual_promote',
        mode: 'auto',
        applied: true,
        reason: 'better in paper trading',
        candidateMetrics: v2.metrics,
        productionVersion: 1,
        productionMetrics: v1.metrics,
        productionUri,
        commandId: null,
      }),
    });
    expect(await stages('BTCUSDT')).toEqual(['v1:archived', 'v2:production']);
    expect(await ds.query(`SELECT promoted_at AS at FROM promoter.model_versions WHERE symbol = 'BTCUSDT' AND version = 2`)).toEqual([{ at }]);
    expect(await pointer('BTCUSDT')).toEqual({
      symbol: 'BTCUSDT',
      version: 2,
      prefix: 'models/production/BTCUSDT/v2',
      artifacts: v2.artifacts.map((a) => ({ name: a.name, uri: store.uri(`models/production/BTCUSDT/v2/${a.name}`), sha256: a.sha256, bytes: a.bytes })),
      promotedAt: at.toISOString(),
    });
    expect(sha256Buffer(await store.get('models/production/BTCUSDT/v2/model.bin'))).toBe(sha(v2, 'model.bin'));

    const manualEvents = (await published('model.promoted', 'BTCUSDT')).filter((e) => e.decision.rule === 'manual_promote');
    expect(manualEvents).toEqual([
      {
        schemaVersion: 1,
        id: `BTCUSDT-v2-promoted-d${done.decision.id}`,
        occurredAt: expect.any(String),
        symbol: 'BTCUSDT',
        version: 2,
        runId: v2.runId,
        jobId: v2.jobId,
        metrics: v2.metrics,
        productionMetrics: v1.metrics,
        decision: { outcome: 'promote', rule: 'manual_promote', mode: 'auto', applied: true, reason: 'better in paper trading' },
        productionUri,
      },
    ]);
  });

  it("promotes a specialist's version in its own registry, leaving the plain model's production alone", async () => {
    await train('BTCUSDT', 0.55, 'bull');
    await train('BTCUSDT', 0.5, 'bull');
    const plain = (await store.get(pointerKey('BTCUSDT'))).toString();

    const done = await manual.promote(keyOf('BTCUSDT', 'bull'), 2);

    expect(done).toMatchObject({
      symbol: 'BTCUSDT',
      variant: 'bull',
      version: 2,
      fromVersion: 1,
      productionUri: store.uri(pointerKey('BTCUSDT', 'bull')),
      decision: { reason: 'promoted by an operator' },
    });
    expect(await stages('BTCUSDT', 'bull')).toEqual(['v1:archived', 'v2:production']);
    expect(await pointer('BTCUSDT', 'bull')).toMatchObject({ variant: 'bull', version: 2, prefix: 'models/production/BTCUSDT/bull/v2' });
    expect((await store.get(pointerKey('BTCUSDT'))).toString()).toBe(plain);
    expect(await stages('BTCUSDT')).toEqual(['v1:archived', 'v2:production']);
    const event = (await published('model.promoted', 'BTCUSDT')).find((e) => e.variant === 'bull' && e.decision.rule === 'manual_promote');
    expect(event).toMatchObject({ id: `BTCUSDT-bull-v2-promoted-d${done.decision.id}`, variant: 'bull', version: 2 });
  });

  it('refuses a version whose file changed since training, or is gone, with the reason, and changes nothing', async () => {
    await train('ETHUSDT', 0.6);
    const v2 = await train('ETHUSDT', 0.5);
    const v3 = await train('ETHUSDT', 0.4);
    await store.put(`${v2.artifactsPrefix}/model.bin`, 'weights swapped after training');
    await store.delete(`${v3.artifactsPrefix}/metrics.json`);
    const before = await snapshot('ETHUSDT');
    expect(before.stages).toEqual(['v1:production', 'v2:candidate', 'v3:candidate']);

    const changed = `ETHUSDT v2 refused (checksum_mismatch): model.bin changed since training: sha256 ${sha256Buffer(Buffer.from('weights swapped after training')).slice(0, 12)}…, trained as ${sha(v2, 'model.bin').slice(0, 12)}…`;
    expect(await refusal(manual.promote(keyOf('ETHUSDT'), 2))).toEqual({ type: ConflictException.name, status: 409, message: changed });
    expect(await refusal(manual.rollback(keyOf('ETHUSDT'), 2))).toEqual({ type: ConflictException.name, status: 409, message: changed });
    const metricsUri = v3.artifacts.find((a) => a.name === 'metrics.json')!.uri;
    expect(await refusal(manual.promote(keyOf('ETHUSDT'), 3))).toEqual({
      type: ConflictException.name,
      status: 409,
      message: `ETHUSDT v3 refused (artifact_missing): metrics.json is missing at ${metricsUri}`,
    });

    expect(await snapshot('ETHUSDT')).toEqual(before);
    expect(await store.list('models/production/ETHUSDT/v2/')).toEqual([]);
  });

  it('rolls back to the previous production version, then to a named one, publishing model.rolled_back', async () => {
    const v1 = await train('ADAUSDT', 0.5);
    const v2 = await train('ADAUSDT', 0.55);
    await train('ADAUSDT', 0.6);
    expect(await stages('ADAUSDT')).toEqual(['v1:archived', 'v2:archived', 'v3:production']);

    const back = await manual.rollback(keyOf('ADAUSDT'));
    expect(back).toMatchObject({
      symbol: 'ADAUSDT',
      version: 2,
      fromVersion: 3,
      decision: { rule: 'manual_rollback', outcome: 'promote', applied: true, reason: 'rolled back by an operator', productionVersion: 3 },
    });
    expect(await stages('ADAUSDT')).toEqual(['v1:archived', 'v2:production', 'v3:archived']);
    expect(await pointer('ADAUSDT')).toMatchObject({ version: 2, prefix: 'models/production/ADAUSDT/v2' });

    const chosen = await manual.rollback(keyOf('ADAUSDT'), 1, 'v2 misbehaves live');
    expect(chosen).toMatchObject({ version: 1, fromVersion: 2, decision: { rule: 'manual_rollback', reason: 'v2 misbehaves live' } });
    expect(await stages('ADAUSDT')).toEqual(['v1:production', 'v2:archived', 'v3:archived']);
    expect((await pointer('ADAUSDT')).version).toBe(1);

    // Without a version: the one most recently in production that is not there now, v2.
    const again = await manual.rollback(keyOf('ADAUSDT'));
    expect(again).toMatchObject({ version: 2, fromVersion: 1 });
    expect(await stages('ADAUSDT')).toEqual(['v1:archived', 'v2:production', 'v3:archived']);

    expect(await published('model.rolled_back', 'ADAUSDT')).toEqual([
      {
        schemaVersion: 1,
        id: `ADAUSDT-v2-rolled-back-d${back.decision.id}`,
        occurredAt: expect.any(String),
        symbol: 'ADAUSDT',
        version: 2,
        runId: v2.runId,
        jobId: v2.jobId,
        fromVersion: 3,
        reason: 'rolled back by an operator',
      },
      {
        schemaVersion: 1,
        id: `ADAUSDT-v1-rolled-back-d${chosen.decision.id}`,
        occurredAt: expect.any(String),
        symbol: 'ADAUSDT',
        version: 1,
        runId: v1.runId,
        jobId: v1.jobId,
        fromVersion: 2,
        reason: 'v2 misbehaves live',
      },
      expect.objectContaining({ id: `ADAUSDT-v2-rolled-back-d${again.decision.id}`, version: 2, fromVersion: 1 }),
    ]);
    // Rollbacks are announced as rollbacks only: no manual model.promoted for them.
    expect((await published('model.promoted', 'ADAUSDT')).filter((e) => e.decision.rule.startsWith('manual_'))).toEqual([]);
  });

  it('refuses unknown versions with NotFoundException (404) and what cannot be done with ConflictException (409), changing nothing', async () => {
    await train('DOTUSDT', 0.5);
    const before = await snapshot('DOTUSDT');
    const notFound = (message: string) => ({ type: NotFoundException.name, status: 404, message });
    const conflict = (message: string) => ({ type: ConflictException.name, status: 409, message });

    expect(await refusal(manual.promote(keyOf('DOTUSDT'), 9))).toEqual(notFound('DOTUSDT has no version 9'));
    expect(await refusal(manual.rollback(keyOf('DOTUSDT'), 9))).toEqual(notFound('DOTUSDT has no version 9'));
    // BTCUSDT has a v2; DOTUSDT, and DOTUSDT's bull specialist, do not.
    expect(await refusal(manual.promote(keyOf('DOTUSDT'), 2))).toEqual(notFound('DOTUSDT has no version 2'));
    expect(await refusal(manual.promote(keyOf('DOTUSDT', 'bull'), 1))).toEqual(notFound('DOTUSDT/bull has no version 1'));

    expect(await refusal(manual.promote(keyOf('DOTUSDT'), 1))).toEqual(conflict('DOTUSDT v1 is already in production'));
    expect(await refusal(manual.rollback(keyOf('DOTUSDT'), 1))).toEqual(conflict('DOTUSDT v1 is already in production'));
    expect(await refusal(manual.rollback(keyOf('DOTUSDT')))).toEqual(conflict('DOTUSDT has no earlier production version to roll back to'));
    expect(await refusal(manual.rollback(keyOf('DOTUSDT', 'bull')))).toEqual(conflict('DOTUSDT/bull has no earlier production version to roll back to'));
    expect(await refusal(manual.rollback(keyOf('XRPUSDT')))).toEqual(conflict('XRPUSDT has no earlier production version to roll back to'));

    expect(await snapshot('DOTUSDT')).toEqual(before);
    expect(before.stages).toEqual(['v1:production']);
  });

  it('answers a command seen before with what it did, switching production only once, even after production moved on', async () => {
    await train('LTCUSDT', 0.5);
    await train('LTCUSDT', 0.55);
    await train('LTCUSDT', 0.6);
    const manualDecisions = async () => (await ds.query(`SELECT count(*)::int AS n FROM promoter.decisions WHERE symbol = 'LTCUSDT' AND rule LIKE 'manual_%'`))[0].n as number;

    const first = await manual.rollback(keyOf('LTCUSDT'), undefined, 'bad fills', 'cmd-rollback-1');
    expect(first).toMatchObject({ version: 2, fromVersion: 3, decision: { commandId: 'cmd-rollback-1' } });
    const repeat = await manual.rollback(keyOf('LTCUSDT'), undefined, 'bad fills', 'cmd-rollback-1');
    expect(repeat).toEqual(first);
    // A new rollback would have gone to v3, the version most recently in production before v2.
    expect(await stages('LTCUSDT')).toEqual(['v1:archived', 'v2:production', 'v3:archived']);
    expect(await manualDecisions()).toBe(1);
    expect((await published('model.rolled_back', 'LTCUSDT')).map((e) => e.id)).toEqual([`LTCUSDT-v2-rolled-back-d${first.decision.id}`]);

    const promoted = await manual.promote(keyOf('LTCUSDT'), 1, 'retry of a timed-out call', 'api:key-7');
    expect(await manual.promote(keyOf('LTCUSDT'), 1, 'retry of a timed-out call', 'api:key-7')).toEqual(promoted);
    expect(await stages('LTCUSDT')).toEqual(['v1:production', 'v2:archived', 'v3:archived']);
    expect(await manualDecisions()).toBe(2);
    expect((await published('model.promoted', 'LTCUSDT')).filter((e) => e.decision.rule === 'manual_promote').map((e) => e.id)).toEqual([`LTCUSDT-v1-promoted-d${promoted.decision.id}`]);

    // The rollback command redelivered now: it answers as it did and does not take v1 out of production.
    expect(await manual.rollback(keyOf('LTCUSDT'), undefined, 'bad fills', 'cmd-rollback-1')).toEqual(first);
    expect(await stages('LTCUSDT')).toEqual(['v1:production', 'v2:archived', 'v3:archived']);
    expect((await pointer('LTCUSDT')).version).toBe(1);
    expect(await manualDecisions()).toBe(2);
  });

  it('refuses a command id already used for another model with ConflictException (409), before anything changes', async () => {
    await train('XRPUSDT', 0.55);
    await train('XRPUSDT', 0.5);
    await train('NEARUSDT', 0.55);
    await train('NEARUSDT', 0.5);
    await manual.promote(keyOf('XRPUSDT'), 2, undefined, 'api:key-8');
    const before = await snapshot('NEARUSDT');

    const conflict = { type: ConflictException.name, status: 409, message: 'command api:key-8 was already used for XRPUSDT, not NEARUSDT' };
    expect(await refusal(manual.promote(keyOf('NEARUSDT'), 2, undefined, 'api:key-8'))).toEqual(conflict);
    expect(await refusal(manual.rollback(keyOf('XRPUSDT', 'bull'), undefined, undefined, 'api:key-8'))).toEqual({
      ...conflict,
      message: 'command api:key-8 was already used for XRPUSDT, not XRPUSDT/bull',
    });
    // CURRENT.json included: the unique command id used to fail only after the pointer had moved to v2.
    expect(await snapshot('NEARUSDT')).toEqual(before);
    expect(before.stages).toEqual(['v1:production', 'v2:candidate']);
  });

  it('restores a version from its intact production copy when its trainer files have changed or gone, and refuses it once that copy is damaged too', async () => {
    const v1 = await train('SOLUSDT', 0.5);
    await train('SOLUSDT', 0.55);
    // As retention leaves a version it pruned, or worse: the trainer's files no longer what was trained.
    await store.put(`${v1.artifactsPrefix}/model.bin`, 'overwritten');
    await store.delete(`${v1.artifactsPrefix}/metrics.json`);

    expect(await manual.rollback(keyOf('SOLUSDT'))).toMatchObject({ version: 1, fromVersion: 2 });
    const restored = await pointer('SOLUSDT');
    expect(restored).toMatchObject({ version: 1, prefix: 'models/production/SOLUSDT/v1' });
    expect(restored.artifacts.map((a) => [a.name, a.sha256])).toEqual(v1.artifacts.map((a) => [a.name, a.sha256]));
    expect((await store.get('models/production/SOLUSDT/v1/model.bin')).toString()).toBe(`weights of ${v1.jobId}`);

    await manual.promote(keyOf('SOLUSDT'), 2);
    await store.put('models/production/SOLUSDT/v1/model.bin', 'damaged copy');
    const before = await snapshot('SOLUSDT');
    expect(await refusal(manual.rollback(keyOf('SOLUSDT'), 1))).toEqual({
      type: ConflictException.name,
      status: 409,
      message: `SOLUSDT v1 refused (checksum_mismatch): model.bin changed since training: sha256 ${sha256Buffer(Buffer.from('overwritten')).slice(0, 12)}…, trained as ${sha(v1, 'model.bin').slice(0, 12)}…`,
    });
    expect(await snapshot('SOLUSDT')).toEqual(before);
    expect(before.stages).toEqual(['v1:archived', 'v2:production']);
  });
});
