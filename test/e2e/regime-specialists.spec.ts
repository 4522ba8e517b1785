import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Variant } from '@trainyard/contracts';
import { waitFor } from '@trainyard/testing';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(240_000);

interface VersionRow {
  variant: string;
  version: number;
  stage: string;
  run_id: string;
}
interface DecisionRow {
  variant: string;
  version: number;
  outcome: string;
  rule: string;
  production_version: number | null;
  production_metrics: { directionalHitRate: number } | null;
}

describe('regime specialists through all five services (real NATS and PostgreSQL)', () => {
  const sut = new SystemUnderTest();
  const request = (runId: string, date: string, variants: Variant[]) => ({ runId, trigger: 'api' as const, date, symbols: ['BTCUSDT'], variants, promote: 'auto' as const, lookbackCandles: 2000 });
  const versions = () => sut.query<VersionRow>(`SELECT variant, version, stage, run_id FROM promoter.model_versions WHERE symbol = 'BTCUSDT' ORDER BY variant, version`);
  const decisions = () =>
    sut.query<DecisionRow>(
      `SELECT d.variant, v.version, d.outcome, d.rule, d.production_version, d.production_metrics FROM promoter.decisions d JOIN promoter.model_versions v ON v.id = d.version_id WHERE d.symbol = 'BTCUSDT' ORDER BY d.variant, v.version`,
    );
  const pointer = (key: string) => JSON.parse(readFileSync(join(sut.artifactsDir, 'models/production', key, 'CURRENT.json'), 'utf8'));

  beforeAll(() => sut.start());
  afterAll(() => sut.stop());

  it('a run with variants bull,bear registers and promotes BTCUSDT/bull and BTCUSDT/bear separately, and no plain model', async () => {
    await sut.bus.publish('run.requested', request('spec-bull-bear', '2026-11-22', ['bull', 'bear']));
    const completed = await sut.completion('spec-bull-bear', 180_000);

    expect(completed.status).toBe('succeeded');
    expect(Object.keys(completed.summary.by_symbol).sort()).toEqual(['BTCUSDT/bear', 'BTCUSDT/bull']);
    expect(completed.summary.by_variant).toEqual({
      bull: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
      bear: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
    });

    const succeeded = (await sut.events('job.succeeded')).map((e) => e.data).filter((d) => d.runId === 'spec-bull-bear');
    expect(succeeded.map((s) => [s.jobId, s.variant]).sort()).toEqual([
      ['spec-bull-bear-BTCUSDT-bear', 'bear'],
      ['spec-bull-bear-BTCUSDT-bull', 'bull'],
    ]);
    for (const s of succeeded) {
      // Judged on its own regime, evaluated on all data besides: two different sets of figures.
      expect(s.allDataMetrics).toBeDefined();
      expect(s.allDataMetrics).not.toEqual(s.metrics);
      const metricsFile = JSON.parse(readFileSync(join(sut.artifactsDir, s.artifactsPrefix, 'metrics.json'), 'utf8'));
      expect(metricsFile.variant).toBe(s.variant);
      expect(metricsFile.regimes[s.variant].bars).toBe(s.evaluationWindow.candles);
      expect(metricsFile.allData.metrics).toEqual(s.allDataMetrics);
    }

    const promoted = await waitFor(async () => {
      const rows = await versions();
      return rows.length === 2 && rows.every((r) => r.stage === 'production') ? rows : null;
    }, 'both specialists in production');
    expect(promoted.map((r) => [r.variant, r.version])).toEqual([
      ['bear', 1],
      ['bull', 1],
    ]);
    expect((await decisions()).map((d) => [d.variant, d.rule, d.production_version])).toEqual([
      ['bear', 'no_production', null],
      ['bull', 'no_production', null],
    ]);
    const events = (await sut.events('model.promoted')).map((e) => e.data);
    expect(events.map((e) => `${e.symbol}/${e.variant} v${e.version}`).sort()).toEqual(['BTCUSDT/bear v1', 'BTCUSDT/bull v1']);
    expect(pointer('BTCUSDT/bull')).toMatchObject({ symbol: 'BTCUSDT', variant: 'bull', version: 1, prefix: 'models/production/BTCUSDT/bull/v1' });
    expect(pointer('BTCUSDT/bear')).toMatchObject({ variant: 'bear', version: 1 });
    expect(existsSync(join(sut.artifactsDir, 'models/production/BTCUSDT/CURRENT.json'))).toBe(false);
  });

  it('compares each with its own production only: the next bull is decided against bull v1, the plain model against nothing', async () => {
    await sut.bus.publish('run.requested', request('spec-default-bull', '2026-11-23', ['default', 'bull']));
    const completed = await sut.completion('spec-default-bull', 180_000);
    expect(completed.status).toBe('succeeded');
    expect(Object.keys(completed.summary.by_symbol).sort()).toEqual(['BTCUSDT', 'BTCUSDT/bull']);
    expect(Object.keys(completed.summary.by_variant).sort()).toEqual(['bull', 'default']);

    const decided = await waitFor(async () => {
      const rows = await decisions();
      return rows.length === 4 ? rows : null;
    }, 'the decisions of the second run');
    const [bullV1] = await sut.query<{ metrics: { directionalHitRate: number } }>(`SELECT metrics FROM promoter.model_versions WHERE symbol = 'BTCUSDT' AND variant = 'bull' AND version = 1`);
    if (!bullV1) throw new Error('no version 1 of the bull specialist');
    const bullV2 = decided.find((d) => d.variant === 'bull' && d.version === 2)!;
    expect(bullV2.production_version).toBe(1);
    expect(bullV2.production_metrics?.directionalHitRate).toBe(bullV1.metrics.directionalHitRate);
    expect(bullV2.rule).not.toBe('no_production');
    // The plain model's first version has no production of its own, whatever the specialists have.
    expect(decided.find((d) => d.variant === 'default')).toMatchObject({ version: 1, outcome: 'promote', rule: 'no_production', production_version: null });
    expect(pointer('BTCUSDT')).toMatchObject({ symbol: 'BTCUSDT', version: 1, prefix: 'models/production/BTCUSDT/v1' });
    expect(pointer('BTCUSDT')).not.toHaveProperty('variant');
    // The bear specialist was not in this run: its production is as it was.
    expect((await versions()).filter((v) => v.variant === 'bear').map((v) => [v.version, v.stage])).toEqual([[1, 'production']]);
  });
});
