import { performance } from 'node:perf_hooks';
import { toJobSpec, type JobDefinition } from '@trainyard/contracts';
import { trainBuiltin } from '../training/builtin-training';
import { generateSyntheticCandles } from '../training/candles';
import { buildFeatures, rowCount } from '../training/features';

export interface BenchResult {
  value: number;
  unit: string;
  target: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** A job as the scheduler plans it (its model options), on `count` 1h candles. */
function benchJob(count: number, symbol = 'BTCUSDT'): JobDefinition {
  return {
    jobId: `bench-${symbol}`,
    runId: 'bench',
    symbol,
    date: '2026-11-22',
    featureset: 'fs1',
    timeframe: '1h',
    lookbackCandles: count,
    model: { type: 'logistic', learningRate: 0.5, epochs: 30, seed: 42 },
    costs: { feeBps: 10, spreadBps: 2 },
    driver: { kind: 'builtin' },
    resources: { gpuMemoryGb: 0, cpus: 1 },
    timeoutMinutes: 45,
    priority: 'normal',
    purpose: 'production',
  };
}

/**
 * The built-in trainer on this thread (one core): fs1 features over 100,000 candles, and a whole
 * training (features, split, epochs with early stopping, evaluation) on 10,000. Candles are generated
 * beforehand and not timed; each figure is the median of several runs after a warm-up.
 */
export async function runAgentBench(): Promise<Record<string, BenchResult>> {
  const many = generateSyntheticCandles({ symbol: 'BTCUSDT', date: '2026-11-22', timeframe: '1h', count: 100_000, seed: 42 }).candles;
  for (let i = 0; i < 3; i++) buildFeatures(many);
  const featureSeconds: number[] = [];
  for (let i = 0; i < 9; i++) {
    const started = performance.now();
    const rows = buildFeatures(many);
    featureSeconds.push((performance.now() - started) / 1000);
    if (rowCount(rows) < 99_000) throw new Error(`features of 100,000 candles gave ${rowCount(rows)} rows`);
  }

  const early = timedTraining(benchJob(10_000));
  // SOLUSDT's synthetic candles keep improving the validation loss: every epoch runs, where a cost that grows with the epoch shows.
  const whole = timedTraining(benchJob(10_000, 'SOLUSDT'));

  return {
    features_100k_candles: { value: Math.round(many.length / median(featureSeconds)), unit: 'candle-rows/s (median of 9)', target: '>= 1000000' },
    builtin_train_10k_candles: { value: whole.seconds, unit: `s on one core (median of 3; ${whole.epochs} of 30 epochs, no early stop)`, target: '< 5' },
    builtin_train_10k_candles_early_stop: { value: early.seconds, unit: `s on one core (median of 3; ${early.epochs} of 30 epochs, early stopping)`, target: '< 5' },
  };
}

/** The built-in trainer on the job's synthetic candles after a warm-up: the median of three, and the epochs it ran. */
function timedTraining(job: JobDefinition): { seconds: number; epochs: number } {
  const spec = toJobSpec(job, 1);
  const { candles, regimes } = generateSyntheticCandles({ symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, count: spec.lookbackCandles, seed: spec.model.seed });
  trainBuiltin({ spec, candles, regimes });
  const seconds: number[] = [];
  let epochs = 0;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    epochs = trainBuiltin({ spec, candles, regimes }).trainingLog.length;
    seconds.push((performance.now() - started) / 1000);
  }
  return { seconds: Number(median(seconds).toFixed(2)), epochs };
}
