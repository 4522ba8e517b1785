import { toJobSpec, type JobSpec } from '@trainyard/contracts';
import { testJobDefinition } from '@trainyard/testing';
import { trainBuiltin, TrainingDataError, type BuiltinProgress } from './builtin-trainer';
import { generateSyntheticCandles } from './candles';

function jobSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  const definition = testJobDefinition({ jobId: 'job-1', runId: 'run-1', date: '2024-06-01', lookbackCandles: 2000, model: { type: 'logistic', learningRate: 0.1, epochs: 20, seed: 7 }, costs: { feeBps: 5, spreadBps: 2 } });
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
    expect(result.equityCurve[result.equityCurve.length - 1] - 1).toBeCloseTo(metrics.totalReturn, 12);
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
    expect(best.validationMetric).toBe(Math.min(...result.trainingLog.map((e) => e.validationMetric)));
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
});
