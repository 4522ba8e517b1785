import { toJobSpec, type JobSpec } from '@trainyard/contracts';
import { testJobDefinition } from '@trainyard/testing';
import { buildFeatureTable, trainBuiltin, TrainingDataError, type BuiltinCheckpoint, type BuiltinProgress, type FeatureTable } from './builtin-training';
import { generateSyntheticCandles } from './candles';
import { decodeFeatureTable, encodeFeatureTable, featureFileMeta } from '../market-data/feature-parquet';

function jobSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  const definition = testJobDefinition({
    jobId: 'job-1',
    runId: 'run-1',
    date: '2024-06-01',
    lookbackCandles: 2000,
    model: { type: 'logistic', learningRate: 0.1, epochs: 20, seed: 7 },
    costs: { feeBps: 5, spreadBps: 2 },
  });
  return { ...toJobSpec(definition, 1), ...overrides };
}

describe('trainBuiltin', () => {
  const progress: BuiltinProgress[] = [];
  const result = trainBuiltin({ spec: jobSpec(), onProgress: (p) => progress.push(p) });

  it('is deterministic, byte for byte', () => {
    expect(JSON.stringify(trainBuiltin({ spec: jobSpec() }))).toBe(JSON.stringify(result));
  });

  it('gives finite metrics within their ranges', () => {
    const { metrics } = result;
    expect(Object.values(metrics).every(Number.isFinite)).toBe(true);
    expect(metrics.directionalHitRate).toBeGreaterThanOrEqual(0);
    expect(metrics.directionalHitRate).toBeLessThanOrEqual(1);
    expect(metrics.maxDrawdown).toBeGreaterThanOrEqual(0);
    expect(metrics.maxDrawdown).toBeLessThanOrEqual(1);
    expect(metrics.totalReturn).toBeGreaterThan(-1);
    expect(metrics.mae).toBeGreaterThan(0);
    expect(metrics.rmse).toBeGreaterThanOrEqual(metrics.mae);
    expect(metrics.r2).toBeLessThanOrEqual(1);
    expect(result.equityCurve).toHaveLength(result.splitIndices.test.length + 1);
    expect(result.equityCurve[result.equityCurve.length - 1]! - 1).toBeCloseTo(metrics.totalReturn, 12);
  });

  it('beats a coin flip on the synthetic market, which has learnable trend and regime drift', () => {
    expect(result.metrics.directionalHitRate).toBeGreaterThan(0.55);
    const others = ['ETHUSDT', 'SOLUSDT', 'XRPUSDT'].map((symbol) => trainBuiltin({ spec: jobSpec({ symbol }) }).metrics.directionalHitRate);
    expect(others.reduce((a, b) => a + b) / others.length).toBeGreaterThan(0.52);
  });

  it('splits candles chronologically and disjointly, testing on the newest', () => {
    const { train, validation, test } = result.splitIndices;
    expect(Math.max(...train)).toBeLessThan(Math.min(...validation));
    expect(Math.max(...validation)).toBeLessThan(Math.min(...test));
    expect(test[test.length - 1]).toBe(1998);
    expect(new Set([...train, ...validation, ...test]).size).toBe(train.length + validation.length + test.length);
  });

  it('evaluates on the bars after the test candles, ending with the data date', () => {
    expect(result.evaluationWindow).toEqual({
      from: new Date(Date.parse('2024-06-02T00:00:00Z') - result.splitIndices.test.length * 3_600_000).toISOString(),
      to: '2024-06-02T00:00:00.000Z',
      candles: result.splitIndices.test.length,
    });
  });

  it('reports progress per epoch and keeps the best epoch', () => {
    expect(progress.map((p) => p.epoch)).toEqual(result.trainingLog.map((e) => e.epoch));
    expect(progress.every((p) => p.epochs === 20 && p.percent === Math.round((100 * p.epoch) / 20))).toBe(true);
    const best = result.trainingLog[result.bestEpoch - 1];
    expect(best?.validationMetric).toBe(Math.min(...result.trainingLog.map((e) => e.validationMetric)));
  });

  it('describes what it trained', () => {
    expect(result.featureset).toBe('fs1');
    expect(result.featureNames).toEqual(result.scaler.featureNames);
    expect(result.model).toMatchObject({ name: 'LogisticRegression' });
    const sum = Object.values(result.regimes).reduce((a, r) => a + r.bars, 0);
    expect(sum).toBe(result.splitIndices.test.length);
  });

  it('earns less with higher costs from the same model', () => {
    const expensive = trainBuiltin({ spec: jobSpec({ costs: { feeBps: 20, spreadBps: 10 } }) });
    expect(expensive.model).toEqual(result.model);
    expect(expensive.metrics.totalReturn).toBeLessThan(result.metrics.totalReturn);
  });

  it('trains on candles it is given, inferring their regimes', () => {
    const { candles } = generateSyntheticCandles({ symbol: 'ETHUSDT', date: '2024-06-01', timeframe: '1h', count: 500, seed: 3 });
    const own = trainBuiltin({ spec: jobSpec({ lookbackCandles: 500 }), candles });
    expect(own.splitIndices.test[own.splitIndices.test.length - 1]).toBe(498);
    expect(Object.values(own.metrics).every(Number.isFinite)).toBe(true);
  });

  it('refuses candles with a gap, listing the issues', () => {
    const { candles } = generateSyntheticCandles({ symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h', count: 300, seed: 1 });
    const gappy = [...candles.slice(0, 100), ...candles.slice(101)];
    try {
      trainBuiltin({ spec: jobSpec(), candles: gappy });
      throw new Error('expected a TrainingDataError');
    } catch (err) {
      expect(err).toBeInstanceOf(TrainingDataError);
      expect((err as TrainingDataError).issues).toEqual([expect.objectContaining({ kind: 'gap', index: 100 })]);
    }
  });

  it('refuses a featureset it does not compute', () => {
    expect(() => trainBuiltin({ spec: jobSpec({ featureset: 'fs2' }) })).toThrow(/fs1/);
  });

  it('hands the test-period equity curve with bar times (equity.json)', () => {
    const { equity, equityCurve } = result;
    expect(equityCurve.length).toBeLessThanOrEqual(500);
    expect(equity.map((p) => p.equity)).toEqual(equityCurve);
    expect(equity[0]).toEqual({ t: Date.parse(result.evaluationWindow.from), equity: 1 });
    expect(equity.at(-1)?.t).toBe(Date.parse(result.evaluationWindow.to));
    expect(equity.every((p, i) => i === 0 || p.t - equity[i - 1]!.t === 3_600_000)).toBe(true);
  });

  it('hands out its features and split as they appear, and gives the same result from those features', () => {
    const seen: { features?: FeatureTable; split?: unknown } = {};
    const spec = jobSpec({ lookbackCandles: 600 });
    const fresh = trainBuiltin({ spec, onFeatures: (t) => (seen.features = t), onSplit: (s) => (seen.split = s) });
    expect(seen.split).toEqual(fresh.splitIndices);
    expect(seen.features!.openTime).toHaveLength(seen.features!.labels.length);
    const again = trainBuiltin({ spec, features: seen.features, onFeatures: () => fail('features given are not computed again') });
    expect(JSON.stringify(again)).toBe(JSON.stringify(fresh));
  });

  it('gives the same result from features that went through Parquet', async () => {
    const spec = jobSpec({ lookbackCandles: 600 });
    const table = buildFeatureTable(spec);
    const { table: back, meta } = await decodeFeatureTable(await encodeFeatureTable(table, featureFileMeta(spec, 'synthetic:seed=7')));
    expect(meta).toEqual({ featureset: 'fs1', symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h', lookbackCandles: 600, source: 'synthetic:seed=7' });
    expect(back).toEqual(table);
    expect(JSON.stringify(trainBuiltin({ spec, features: back }))).toBe(JSON.stringify(trainBuiltin({ spec })));
  });

  describe('checkpoints', () => {
    // ETHUSDT at this rate trains 10 epochs: the best is epoch 5, patience ends it at 10.
    const spec = jobSpec({ symbol: 'ETHUSDT', model: { type: 'logistic', learningRate: 0.03, epochs: 20, seed: 7 } });
    const checkpoints: BuiltinCheckpoint[] = [];
    const whole = trainBuiltin({ spec, checkpointEvery: 3, onCheckpoint: (c) => checkpoints.push(JSON.parse(JSON.stringify(c))) });
    const { resumedFromEpoch, ...wholeRest } = whole;

    it('are handed out every N epochs while training goes on', () => {
      expect(whole.trainingLog).toHaveLength(10);
      expect(whole.bestEpoch).toBe(5);
      expect(resumedFromEpoch).toBeNull();
      expect(checkpoints.map((c) => c.state.epoch)).toEqual([3, 6, 9]);
      expect(checkpoints[1]?.state.best.epoch).toBe(5);
    });

    it.each([0, 1, 2])('resume from checkpoint %i to exactly the uninterrupted model, log and metrics', (k) => {
      const checkpoint = checkpoints[k];
      expect(checkpoint).toBeDefined();
      const { epoch } = checkpoint!.state;
      const progress: number[] = [];
      const resumed = trainBuiltin({ spec, resumeFrom: checkpoint, onProgress: (p) => progress.push(p.epoch) });
      expect(resumed.resumedFromEpoch).toBe(epoch);
      // Only the epochs after the checkpoint are trained again.
      expect(progress).toEqual(whole.trainingLog.slice(epoch).map((e) => e.epoch));
      const { resumedFromEpoch: _, ...rest } = resumed;
      expect(JSON.stringify(rest)).toBe(JSON.stringify(wholeRest));
    });

    it('still fit a job whose costs differ: costs do not change training', () => {
      expect(trainBuiltin({ spec: jobSpec({ symbol: 'ETHUSDT', model: spec.model, costs: { feeBps: 1, spreadBps: 1 } }), resumeFrom: checkpoints[2] }).resumedFromEpoch).toBe(9);
    });

    it('are not continued on other features or model options, which train from the first epoch', () => {
      // With no checkpoint it would train from the first epoch too, and pass for the wrong reason.
      const checkpoint = checkpoints[1];
      expect(checkpoint).toBeDefined();
      const lines: string[] = [];
      const other = trainBuiltin({
        spec: jobSpec({ symbol: 'ETHUSDT', model: { type: 'logistic', learningRate: 0.03, epochs: 19, seed: 7 } }),
        resumeFrom: checkpoint,
        onLog: (l) => lines.push(l),
      });
      expect(other.resumedFromEpoch).toBeNull();
      expect(lines).toEqual([expect.stringMatching(/other features or model options: training from the first epoch/)]);
      const tampered = { ...checkpoint!, fingerprint: checkpoint!.fingerprint.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
      expect(trainBuiltin({ spec, resumeFrom: tampered }).resumedFromEpoch).toBeNull();
    });
  });
});
