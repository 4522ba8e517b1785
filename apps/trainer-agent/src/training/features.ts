import type { Candle } from './candles';

export const FEATURESET_VERSION = 'fs1';
export const FEATURE_NAMES = ['logret_1', 'logret_3', 'logret_6', 'logret_12', 'logret_24', 'volatility_24', 'rsi_14', 'macd_hist_12_26_9', 'volume_z_24'] as const;

const RETURN_WINDOWS = [1, 3, 6, 12, 24] as const;
const VOLATILITY_WINDOW = 24;
const RSI_PERIOD = 14;
const MACD = { fast: 12, slow: 26, signal: 9 };
const VOLUME_WINDOW = 24;

/** Rows of numbers in one flat, row-major array: a row is values[k * width .. k * width + width - 1]. */
export interface FeatureMatrix {
  width: number;
  values: Float64Array;
}

export interface FeatureRows extends FeatureMatrix {
  /** One row per usable candle, columns in FEATURE_NAMES order; rowCount(rows) of them. */
  /** 1 when the next bar closes higher than this one, else 0. */
  labels: number[];
  /** Log return from this close to the next: what a position taken at this close earns. */
  nextReturns: number[];
  /** The candle each row was computed at. */
  candleIndex: number[];
}

export interface Scaler {
  featureNames: string[];
  mean: number[];
  std: number[];
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function std(values: readonly number[], m = mean(values)): number {
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
}

/**
 * Mean and population std of a[from .. from+len-1], summed left to right like {@link mean} and {@link std}, so both give the same bits.
 * (Callers pass a window inside a, so every a[from + k] below is there.)
 */
function windowStats(a: Float64Array, from: number, len: number): { mean: number; std: number } {
  let sum = 0;
  for (let k = 0; k < len; k++) sum += a[from + k]!;
  const m = sum / len;
  let squares = 0;
  for (let k = 0; k < len; k++) {
    const d = a[from + k]! - m;
    squares += d * d; // the same bits as d ** 2 (pow special-cases 2), without the call
  }
  return { mean: m, std: Math.sqrt(squares / len) };
}

/**
 * EMA of values defined from index `from` on, seeded with the simple mean of its first `period`
 * values (the usual charting convention). Writes into `out`; returns the first index it defined
 * (the length when there are too few values).
 */
function ema(values: Float64Array, from: number, period: number, out: Float64Array): number {
  const first = from + period - 1;
  if (first >= values.length) return values.length;
  // every index read below is at most values.length - 1 (checked just above)
  const alpha = 2 / (period + 1);
  let sum = 0;
  for (let k = 0; k < period; k++) sum += values[from + k]!;
  let prev = sum / period;
  out[first] = prev;
  for (let i = first + 1; i < values.length; i++) {
    prev = alpha * values[i]! + (1 - alpha) * prev;
    out[i] = prev;
  }
  return first;
}

/** Wilder's RSI: averages of gains and losses smoothed with 1/period; defined from index `period` on. */
function rsi(closes: Float64Array, period: number, out: Float64Array): number {
  let avgGain = 0;
  let avgLoss = 0;
  // i and i - 1 are inside closes (loop bounds)
  for (let i = 1; i < closes.length; i++) {
    const change = closes[i]! - closes[i - 1]!;
    const gain = Math.max(change, 0);
    const loss = Math.max(-change, 0);
    if (i <= period) {
      avgGain += gain / period;
      avgLoss += loss / period;
    } else {
      avgGain = (avgGain * (period - 1) + gain) / period;
      avgLoss = (avgLoss * (period - 1) + loss) / period;
    }
    if (i >= period) out[i] = avgLoss === 0 ? 100 : 100 - 100 / (1 + avgGain / avgLoss);
  }
  return period;
}

/**
 * Featureset fs1. Every feature at candle i uses candles up to i only; rows still warming up,
 * and the last candle (it has no next bar to label), are dropped.
 *
 * Single passes over typed arrays (the 24-bar windows are summed in place, nothing is sliced or
 * mapped), with the same arithmetic in the same order as the plain version: the spec holds it to
 * a straightforward reference implementation bit for bit, so stored fs1 features stay valid.
 */
export function buildFeatures(candles: readonly Candle[]): FeatureRows {
  // Every array below has n entries and every index read is in 0..n-1 by its loop's bounds
  // (start >= the longest look-back, and k < count keeps i + 1 below n).
  const n = candles.length;
  const close = new Float64Array(n);
  const logClose = new Float64Array(n);
  const volume = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = candles[i]!;
    close[i] = c.close;
    logClose[i] = Math.log(c.close);
    volume[i] = c.volume;
  }
  const oneBar = new Float64Array(n);
  for (let i = 1; i < n; i++) oneBar[i] = logClose[i]! - logClose[i - 1]!;

  // Volatility at i: std of the one-bar returns ending at i, the first defined at i = 24.
  const volatility = new Float64Array(n);
  for (let i = VOLATILITY_WINDOW; i < n; i++) volatility[i] = windowStats(oneBar, i + 1 - VOLATILITY_WINDOW, VOLATILITY_WINDOW).std;
  const volumeZ = new Float64Array(n);
  for (let i = VOLUME_WINDOW - 1; i < n; i++) {
    const w = windowStats(volume, i + 1 - VOLUME_WINDOW, VOLUME_WINDOW);
    volumeZ[i] = w.std > 0 ? (volume[i]! - w.mean) / w.std : 0;
  }
  const rsiCol = new Float64Array(n);
  const rsiFrom = rsi(close, RSI_PERIOD, rsiCol);

  const fast = new Float64Array(n);
  const slow = new Float64Array(n);
  const fastFrom = ema(close, 0, MACD.fast, fast);
  const slowFrom = ema(close, 0, MACD.slow, slow);
  const macdFrom = Math.max(fastFrom, slowFrom);
  const macdLine = new Float64Array(n);
  for (let i = macdFrom; i < n; i++) macdLine[i] = fast[i]! - slow[i]!;
  const signal = new Float64Array(n);
  const signalFrom = ema(macdLine, macdFrom, MACD.signal, signal);
  // Divided by price so the histogram means the same on a $10 and a $10,000 market.
  const macdHist = new Float64Array(n);
  for (let i = signalFrom; i < n; i++) macdHist[i] = (macdLine[i]! - signal[i]!) / close[i]!;

  const start = Math.max(...RETURN_WINDOWS, VOLATILITY_WINDOW, rsiFrom, signalFrom, VOLUME_WINDOW - 1);
  const count = Math.max(0, n - 1 - start);
  const width = FEATURE_NAMES.length;
  // One flat array, not an array per row: a hundred thousand small arrays cost more than all the arithmetic.
  const rows: FeatureRows = { width, values: new Float64Array(count * width), labels: new Array(count), nextReturns: new Array(count), candleIndex: new Array(count) };
  const v = rows.values;
  for (let k = 0; k < count; k++) {
    const i = start + k;
    const lc = logClose[i]!;
    let o = k * width;
    for (const w of RETURN_WINDOWS) v[o++] = lc - logClose[i - w]!;
    v[o++] = volatility[i]!;
    v[o++] = rsiCol[i]!;
    v[o++] = macdHist[i]!;
    v[o] = volumeZ[i]!;
    rows.labels[k] = close[i + 1]! > close[i]! ? 1 : 0;
    rows.nextReturns[k] = logClose[i + 1]! - logClose[i]!;
    rows.candleIndex[k] = i;
  }
  return rows;
}

export function rowCount(m: FeatureMatrix): number {
  return m.width === 0 ? 0 : m.values.length / m.width;
}

export function featureRow(m: FeatureMatrix, k: number): number[] {
  return Array.from(m.values.subarray(k * m.width, (k + 1) * m.width));
}

export function matrixFromRows(rows: readonly (readonly number[])[], width = rows[0]?.length ?? FEATURE_NAMES.length): FeatureMatrix {
  const values = new Float64Array(rows.length * width);
  rows.forEach((row, k) => {
    if (row.length !== width) throw new Error(`row ${k} has ${row.length} values, expected ${width}`);
    values.set(row, k * width);
  });
  return { width, values };
}

/** Mean and std from the training rows only, so nothing about later rows leaks into the model. */
export function fitScaler(X: FeatureMatrix, trainRows: readonly number[]): Scaler {
  if (trainRows.length === 0) throw new Error('cannot fit a scaler on zero training rows');
  if (X.width !== FEATURE_NAMES.length) throw new Error(`expected ${FEATURE_NAMES.length} feature columns, got ${X.width}`);
  const meanCol: number[] = [];
  const stdCol: number[] = [];
  FEATURE_NAMES.forEach((_, j) => {
    // training rows are rows of X, and j < X.width (checked above)
    const col = trainRows.map((r) => X.values[r * X.width + j]!);
    const m = mean(col);
    const s = std(col, m);
    meanCol.push(m);
    // A constant column would divide by zero; leaving it unscaled keeps it harmless.
    stdCol.push(s > 0 ? s : 1);
  });
  return { featureNames: [...FEATURE_NAMES], mean: meanCol, std: stdCol };
}

/** The given rows (all when omitted), standardised, one array each: what the model takes. */
export function applyScaler(scaler: Scaler, X: FeatureMatrix, rowsWanted?: readonly number[]): number[][] {
  const pick = rowsWanted ?? Array.from({ length: rowCount(X) }, (_, k) => k);
  return pick.map((r) => {
    const row = new Array<number>(X.width);
    // r is a row of X, and the scaler has one mean and std per column of X
    for (let j = 0; j < X.width; j++) row[j] = (X.values[r * X.width + j]! - scaler.mean[j]!) / scaler.std[j]!;
    return row;
  });
}
