import { createHash } from 'node:crypto';
import type { JobSpec, Metrics } from '@trainyard/contracts';
import { generateSyntheticCandles, labelRegimes, timeframeMs, validateCandles, type Candle, type CandleIssue, type Regime, type Timeframe } from './candles';
import { equityPoints, evaluateStrategy, type EquityPoint, type RegimeBreakdown } from './evaluate';
import { applyScaler, buildFeatures, FEATURE_NAMES, FEATURESET_VERSION, fitScaler, rowCount, type FeatureRows, type Scaler } from './features';
import { predictProba, serializeModel, trainLogistic, type EpochReport, type SerializedModel, type TrainState } from './model';
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

/**
 * A job's features with what evaluation needs besides them, so a stored table is enough to train
 * and evaluate without the candles it came from.
 */
export interface FeatureTable extends FeatureRows {
  featureset: string;
  timeframe: Timeframe;
  /** Candles the table was computed from (the job's lookback). */
  candles: number;
  /** Open time (ms) of the candle each row was computed at. */
  openTime: number[];
  /** Regime of the bar each row's position trades: the next one. */
  nextRegime: Regime[];
}

export const CHECKPOINT_FORMAT = 'trainyard.builtin-checkpoint.v1';

/** The built-in trainer's checkpoint: its epoch loop's state, and what it was computed from. */
export interface BuiltinCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** sha256 of the featureset, the model options and every feature and label: a state only fits the rows it came from. */
  fingerprint: string;
  state: TrainState;
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
  /** Features computed earlier (the feature store): used instead of candles. */
  features?: FeatureTable;
  /** Continue after this checkpoint's epoch when it was made from the same rows and options. */
  resumeFrom?: BuiltinCheckpoint;
  /** Hand out a checkpoint every this many epochs (none when unset). */
  checkpointEvery?: number;
  /** The features, when computed here (not given), as soon as they are. */
  onFeatures?(table: FeatureTable): void;
  /** Candle indices of the walk-forward blocks, before training starts. */
  onSplit?(split: SplitIndices): void;
  onProgress?(progress: BuiltinProgress): void;
  onCheckpoint?(checkpoint: BuiltinCheckpoint): void;
  /** Lines for the attempt log. */
  onLog?(line: string): void;
}

export interface BuiltinResult {
  model: SerializedModel;
  scaler: Scaler;
  featureNames: string[];
  featureset: string;
  /** Candle indices of the rows in each block (the candle each decision is made at). */
  splitIndices: SplitIndices;
  trainingLog: Array<Pick<EpochReport, 'epoch' | 'loss' | 'validationMetric'>>;
  /** For a specialist: on its own regime's test bars. */
  metrics: Metrics;
  regimes: RegimeBreakdown;
  /** A specialist's evaluation on every bar of its test period, its regime's and the others'. */
  allData?: { metrics: Metrics; regimes: RegimeBreakdown };
  /** The bars whose returns the test positions earned: from the open of the first to the close of the last. */
  evaluationWindow: { from: string; to: string; candles: number };
  equityCurve: number[];
  /** The test-period equity curve with bar times, at most 500 points: equity.json. */
  equity: EquityPoint[];
  bestEpoch: number;
  /** The checkpoint epoch this run continued after; null when it trained from the first epoch. */
  resumedFromEpoch: number | null;
}

/** values[i], where the caller's indices come from the same table; an error rather than a silent undefined otherwise. */
function entry<T>(values: readonly T[], i: number): T {
  const v = values[i];
  if (v === undefined) throw new Error(`index ${i} is outside a column of ${values.length} rows`);
  return v;
}

/** The entries of values at idx, in idx's order. */
function pick<T>(values: readonly T[], idx: readonly number[]): T[] {
  return idx.map((i) => entry(values, i));
}

function checkFeatureset(featureset: string): void {
  if (featureset !== FEATURESET_VERSION) {
    throw new Error(`the builtin trainer computes featureset ${FEATURESET_VERSION}, the job asks for ${featureset}`);
  }
}

/**
 * The job's candles (given, or seeded synthetic ones), checked, turned into featureset rows. Gaps,
 * duplicates, disorder and bad prices are refused with the list of what is wrong.
 */
export function buildFeatureTable(spec: JobSpec, given?: Candle[], givenRegimes?: Regime[]): FeatureTable {
  checkFeatureset(spec.featureset);
  const { candles, regimes } = given
    ? { candles: given, regimes: givenRegimes ?? labelRegimes(given) }
    : generateSyntheticCandles({ symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, count: spec.lookbackCandles, seed: spec.model.seed });
  if (regimes.length !== candles.length) {
    throw new TrainingDataError(`${regimes.length} regimes for ${candles.length} candles`, []);
  }
  const issues = validateCandles(candles, spec.timeframe);
  const [first] = issues;
  if (first) {
    throw new TrainingDataError(`${issues.length} problem(s) in the candles, first: ${first.kind} at ${first.index}: ${first.detail}`, issues);
  }
  const rows = buildFeatures(candles);
  return {
    ...rows,
    featureset: FEATURESET_VERSION,
    timeframe: spec.timeframe,
    candles: candles.length,
    openTime: rows.candleIndex.map((i) => entry(candles, i).openTime),
    // a row's candle is never the last one, so i + 1 is a candle too
    nextRegime: rows.candleIndex.map((i) => entry(regimes, i + 1)),
  };
}

/** What a checkpoint must have been made from to be continued here. */
export function checkpointFingerprint(spec: JobSpec, table: FeatureTable): string {
  const hash = createHash('sha256');
  // A specialist's state fits its regime's rows only; a plain model's fingerprint stays as it was.
  const variant = spec.variant ? { variant: spec.variant } : {};
  hash.update(JSON.stringify({ format: CHECKPOINT_FORMAT, featureset: table.featureset, timeframe: table.timeframe, model: spec.model, width: table.width, ...variant }));
  hash.update(new Uint8Array(table.values.buffer, table.values.byteOffset, table.values.byteLength));
  hash.update(Float64Array.from(table.labels));
  return hash.digest('hex');
}

/** Rows of a regime a specialist needs at least: enough for a train, a validation and a test block worth the name. */
export const MIN_REGIME_ROWS = 150;

/**
 * A specialist's walk-forward split: only the rows whose traded bar is in its regime (the labelling
 * evaluation reports by), oldest train, next validate, newest test, as indices into the table.
 */
export function regimeSplit(table: FeatureTable, regime: Regime): SplitIndices {
  const rows = table.nextRegime.flatMap((r, i) => (r === regime ? [i] : []));
  if (rows.length < MIN_REGIME_ROWS) {
    throw new TrainingDataError(
      `too few ${regime} bars for a ${regime} specialist: ${rows.length} of ${rowCount(table)} rows are in the ${regime} regime, at least ${MIN_REGIME_ROWS} needed (train on more candles)`,
      [],
    );
  }
  const split = walkForwardSplit(rows.length);
  return { train: pick(rows, split.train), validation: pick(rows, split.validation), test: pick(rows, split.test) };
}

/**
 * The whole built-in training run, in memory: features (from the candles, or given), walk-forward
 * split, logistic regression with early stopping and a cost-aware backtest on the test block.
 * Writes no files: what a caller should save is handed to its hooks as it appears.
 */
export function trainBuiltin(input: BuiltinInput): BuiltinResult {
  const { spec, onProgress, onLog } = input;
  checkFeatureset(spec.featureset);
  let table: FeatureTable;
  if (input.features) {
    table = input.features;
    if (table.featureset !== spec.featureset || table.timeframe !== spec.timeframe) {
      throw new Error(`features of ${table.featureset} ${table.timeframe} given for a ${spec.featureset} ${spec.timeframe} job`);
    }
  } else {
    table = buildFeatureTable(spec, input.candles, input.regimes);
    input.onFeatures?.(table);
  }
  const tf = timeframeMs(spec.timeframe);

  const split = spec.variant ? regimeSplit(table, spec.variant) : walkForwardSplit(rowCount(table));
  const splitIndices: SplitIndices = {
    train: pick(table.candleIndex, split.train),
    validation: pick(table.candleIndex, split.validation),
    test: pick(table.candleIndex, split.test),
  };
  input.onSplit?.(splitIndices);
  const scaler = fitScaler(table, split.train);

  const fingerprint = input.resumeFrom || input.onCheckpoint ? checkpointFingerprint(spec, table) : '';
  let resume: TrainState | undefined;
  if (input.resumeFrom) {
    const c = input.resumeFrom;
    if (c.format !== CHECKPOINT_FORMAT) onLog?.(`checkpoint format ${String(c.format)} is not ${CHECKPOINT_FORMAT}: training from the first epoch`);
    else if (c.fingerprint !== fingerprint) onLog?.('checkpoint was made from other features or model options: training from the first epoch');
    else {
      resume = c.state;
      onLog?.(`resuming after epoch ${c.state.epoch} (best so far: epoch ${c.state.best.epoch})`);
    }
  }

  const { epochs, learningRate } = spec.model;
  const trained = trainLogistic(
    { X: applyScaler(scaler, table, split.train), y: pick(table.labels, split.train) },
    { X: applyScaler(scaler, table, split.validation), y: pick(table.labels, split.validation) },
    {
      epochs,
      learningRate,
      onEpoch: (e) => onProgress?.({ ...e, percent: Math.round((100 * e.epoch) / e.epochs) }),
      resume,
      checkpointEvery: input.checkpointEvery,
      onCheckpoint: input.onCheckpoint ? (state) => input.onCheckpoint!({ format: CHECKPOINT_FORMAT, fingerprint, state }) : undefined,
    },
  );

  const trainReturns = pick(table.nextReturns, split.train);
  const testOpen = pick(table.openTime, split.test);
  // A row's position earns the next bar's return, so that bar's regime is the one it traded in.
  const evaluation = evaluateStrategy({
    probabilities: predictProba(trained.model, applyScaler(scaler, table, split.test)),
    nextReturns: pick(table.nextReturns, split.test),
    regimes: pick(table.nextRegime, split.test),
    costs: spec.costs,
    timeframe: spec.timeframe,
    trainMeanAbsReturn: trainReturns.reduce((a, r) => a + Math.abs(r), 0) / trainReturns.length,
  });

  const allData = spec.variant
    ? (() => {
        // Every row from the first test row on: none of them was trained or validated on.
        const firstTestRow = entry(split.test, 0); // a split's test block is never empty
        const rows = Array.from({ length: rowCount(table) - firstTestRow }, (_, k) => firstTestRow + k);
        const e = evaluateStrategy({
          probabilities: predictProba(trained.model, applyScaler(scaler, table, rows)),
          nextReturns: pick(table.nextReturns, rows),
          regimes: pick(table.nextRegime, rows),
          costs: spec.costs,
          timeframe: spec.timeframe,
          trainMeanAbsReturn: trainReturns.reduce((a, r) => a + Math.abs(r), 0) / trainReturns.length,
        });
        return { metrics: e.metrics, regimes: e.regimes };
      })()
    : undefined;

  // Candles are contiguous (checked), so the traded bar after the row at candle i opens one step later.
  const firstTradedOpen = entry(testOpen, 0) + tf;
  const lastTradedOpen = entry(testOpen, testOpen.length - 1) + tf;
  return {
    model: serializeModel(trained.model),
    scaler,
    featureNames: [...FEATURE_NAMES],
    featureset: FEATURESET_VERSION,
    splitIndices,
    trainingLog: trained.log.map(({ epoch, loss, validationMetric }) => ({ epoch, loss, validationMetric })),
    metrics: evaluation.metrics,
    regimes: evaluation.regimes,
    ...(allData ? { allData } : {}),
    evaluationWindow: {
      from: new Date(firstTradedOpen).toISOString(),
      to: new Date(lastTradedOpen + tf).toISOString(),
      candles: testOpen.length,
    },
    equityCurve: evaluation.equityCurve,
    equity: equityPoints(evaluation.equityCurve, firstTradedOpen, tf),
    bestEpoch: trained.bestEpoch,
    resumedFromEpoch: resume?.epoch ?? null,
  };
}
