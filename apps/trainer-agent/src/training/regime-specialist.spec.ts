import { toJobSpec, type JobSpec } from '@trainyard/contracts';
import { testJobDefinition } from '@trainyard/testing';
import { checkpointFingerprint, buildFeatureTable, MIN_REGIME_ROWS, trainBuiltin, TrainingDataError } from './builtin-training';
import { generateSyntheticCandles, REGIMES, type Regime } from './candles';

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

describe('a regime specialist', () => {
  const spec = jobSpec();
  const { regimes } = generateSyntheticCandles({ symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, count: spec.lookbackCandles, seed: spec.model.seed });
  // A row at candle i trades the next bar: that bar's regime is the row's.
  const tradedRegime = (candle: number) => regimes[candle + 1];
  const plain = trainBuiltin({ spec });
  const bull = trainBuiltin({ spec: jobSpec({ variant: 'bull' }) });
  const bear = trainBuiltin({ spec: jobSpec({ variant: 'bear' }) });

  it('trains, validates and tests on the rows of its regime only, oldest to newest', () => {
    for (const [variant, result] of [
      ['bull', bull],
      ['bear', bear],
    ] as const) {
      const { train, validation, test } = result.splitIndices;
      expect([...train, ...validation, ...test].every((c) => tradedRegime(c) === variant)).toBe(true);
      expect(Math.max(...train)).toBeLessThan(Math.min(...validation));
      expect(Math.max(...validation)).toBeLessThan(Math.min(...test));
      const inRegime = buildFeatureTable(spec).nextRegime.filter((r) => r === variant).length;
      expect(train.length + validation.length + test.length).toBe(inRegime);
    }
    expect(bull.model).not.toEqual(plain.model);
    expect(bull.model).not.toEqual(bear.model);
  });

  it("is judged on its own regime's test bars, and evaluated on every bar of its test period besides", () => {
    expect(bull.regimes.bull.bars).toBe(bull.splitIndices.test.length);
    expect(bull.regimes.bear.bars + bull.regimes.sideways.bars).toBe(0);
    expect(bull.evaluationWindow.candles).toBe(bull.splitIndices.test.length);
    const all = bull.allData!;
    const [firstTest] = bull.splitIndices.test;
    expect(firstTest).toBeDefined();
    // Every row from the first test row on.
    const rowsFromFirstTest = buildFeatureTable(spec).candleIndex.filter((c) => c >= firstTest!).length;
    expect(REGIMES.reduce((n, r) => n + all.regimes[r].bars, 0)).toBe(rowsFromFirstTest);
    expect(all.regimes.bull.bars).toBe(bull.splitIndices.test.length);
    expect(all.regimes.bear.bars + all.regimes.sideways.bars).toBeGreaterThan(0);
    expect(all.metrics).not.toEqual(bull.metrics);
    expect(Object.values(all.metrics).every(Number.isFinite)).toBe(true);
    expect(plain.allData).toBeUndefined();
  });

  it('is deterministic, and its checkpoints fit only its own training', () => {
    expect(JSON.stringify(trainBuiltin({ spec: jobSpec({ variant: 'bull' }) }))).toBe(JSON.stringify(bull));
    const table = buildFeatureTable(spec);
    expect(checkpointFingerprint(jobSpec({ variant: 'bull' }), table)).not.toBe(checkpointFingerprint(spec, table));
    expect(checkpointFingerprint(jobSpec({ variant: 'bull' }), table)).not.toBe(checkpointFingerprint(jobSpec({ variant: 'bear' }), table));
  });

  it('fails with a data error naming the regime when too few bars are in it, rather than training on nothing', () => {
    const { candles } = generateSyntheticCandles({ symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h', count: 600, seed: 7 });
    const labels: Regime[] = candles.map((_, i) => (i % 50 === 0 ? 'bull' : 'sideways'));
    const train = () => trainBuiltin({ spec: jobSpec({ variant: 'bull', lookbackCandles: 600 }), candles, regimes: labels });
    expect(train).toThrow(TrainingDataError);
    expect(train).toThrow(new RegExp(`too few bull bars for a bull specialist: \\d+ of \\d+ rows are in the bull regime, at least ${MIN_REGIME_ROWS} needed`));
    expect(() => trainBuiltin({ spec: jobSpec({ variant: 'sideways', lookbackCandles: 600 }), candles, regimes: labels })).not.toThrow();
  });
});
