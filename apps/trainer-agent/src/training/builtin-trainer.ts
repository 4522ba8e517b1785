import type { JobSpec, Metrics } from '@trainyard/contracts';
import { generateSyntheticCandles, labelRegimes, timeframeMs, validateCandles, type Candle, type CandleIssue, type Regime } from './candles';
import { evaluateStrategy, type RegimeBreakdown } from './evaluate';
import { applyScaler, buildFeatures, FEATURE_NAMES, FEATURESET_VERSION, fitScaler, type Scaler } from './features';
import { predictProba, serializeModel, trainLogistic, type EpochReport, type SerializedModel } from './model';
import { walkForwardSplit, type SplitIndices } from './split';

/** The data cannot be trained on as it is: retrying will not help, the input has to change. */
export class TrainingDataError extends Error {
  override readonly name = 'TrainingDataError';
  constructor(
    message: string,
    readonly issues: CandleIssue[],
  ) {
    super(message);
  }
}

export interface BuiltinProgress {
  percent: number;
  epoch: number;
  epochs: number;
  loss: number;
  validationMetric: number;
}

export interface BuiltinInput {
  spec: JobSpec;
  /** Market data; synthetic candles for spec.symbol and spec.date are generated when absent. */
  candles?: Candle[];
  /** Regime of each given candle; inferred from the candles when absent. */
  regimes?: Regime[];
  onProgress?(progress: BuiltinProgress): void;
}

export interface BuiltinResult {
  model: SerializedModel;
  scaler: Scaler;
  featureNames: string[];
  featureset: string;
  /** Candle indices of the rows in each block (the candle each decision is made at). */
  splitIndices: SplitIndices;
  trainingLog: Array<Pick<EpochReport, 'epoch' | 'loss' | 'validationMetric'>>;
  metrics: Metrics;
  regimes: RegimeBreakdown;
  /** The bars whose returns the test positions earned: from the open of the first to the close of the last. */
  evaluationWindow: { from: string; to: string; candles: number };
  equityCurve: number[];
  bestEpoch: number;
}

/**
 * The whole built-in training run, in memory: data, features, walk-forward split, logistic
 * regression with early stopping and a cost-aware backtest on the test block. Writes no files.
 */
export function trainBuiltin(input: BuiltinInput): BuiltinResult {
  const { spec, onProgress } = input;
  if (spec.featureset !== FEATURESET_VERSION) {
    throw new Error(`the builtin trainer computes featureset ${FEATURESET_VERSION}, the job asks for ${spec.featureset}`);
  }
  const { candles, regimes } = input.candles
    ? { candles: input.candles, regimes: input.regimes ?? labelRegimes(input.candles) }
    : generateSyntheticCandles({ symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, count: spec.lookbackCandles, seed: spec.model.seed });
  if (regimes.length !== candles.length) {
    throw new TrainingDataError(`${regimes.length} regimes for ${candles.length} candles`, []);
  }
  const issues = validateCandles(candles, spec.timeframe);
  if (issues.length > 0) {
    throw new TrainingDataError(`${issues.length} problem(s) in the candles, first: ${issues[0].kind} at ${issues[0].index}: ${issues[0].detail}`, issues);
  }

  const rows = buildFeatures(candles);
  const split = walkForwardSplit(rows.X.length);
  const scaler = fitScaler(rows.X, split.train);
  const X = applyScaler(scaler, rows.X);
  const pick = <T>(values: readonly T[], idx: readonly number[]) => idx.map((i) => values[i]);

  const { epochs, learningRate } = spec.model;
  const trained = trainLogistic(
    { X: pick(X, split.train), y: pick(rows.labels, split.train) },
    { X: pick(X, split.validation), y: pick(rows.labels, split.validation) },
    {
      epochs,
      learningRate,
      onEpoch: (e) => onProgress?.({ ...e, percent: Math.round((100 * e.epoch) / e.epochs) }),
    },
  );

  const trainReturns = pick(rows.nextReturns, split.train);
  const testCandles = pick(rows.candleIndex, split.test);
  // A row's position earns the next bar's return, so that bar's regime is the one it traded in.
  const evaluation = evaluateStrategy({
    probabilities: predictProba(trained.model, pick(X, split.test)),
    nextReturns: pick(rows.nextReturns, split.test),
    regimes: testCandles.map((i) => regimes[i + 1]),
    costs: spec.costs,
    timeframe: spec.timeframe,
    trainMeanAbsReturn: trainReturns.reduce((a, r) => a + Math.abs(r), 0) / trainReturns.length,
  });

  const firstTraded = candles[testCandles[0] + 1];
  const lastTraded = candles[testCandles[testCandles.length - 1] + 1];
  return {
    model: serializeModel(trained.model),
    scaler,
    featureNames: [...FEATURE_NAMES],
    featureset: FEATURESET_VERSION,
    splitIndices: {
      train: pick(rows.candleIndex, split.train),
      validation: pick(rows.candleIndex, split.validation),
      test: testCandles,
    },
    trainingLog: trained.log.map(({ epoch, loss, validationMetric }) => ({ epoch, loss, validationMetric })),
    metrics: evaluation.metrics,
    regimes: evaluation.regimes,
    evaluationWindow: {
      from: new Date(firstTraded.openTime).toISOString(),
      to: new Date(lastTraded.openTime + timeframeMs(spec.timeframe)).toISOString(),
      candles: testCandles.length,
    },
    equityCurve: evaluation.equityCurve,
    bestEpoch: trained.bestEpoch,
  };
}
