import type { Candle } from './candles';

export const FEATURESET_VERSION = 'fs1';
export const FEATURE_NAMES = [
  'logret_1',
  'logret_3',
  'logret_6',
  'logret_12',
  'logret_24',
  'volatility_24',
  'rsi_14',
  'macd_hist_12_26_9',
  'volume_z_24',
] as const;

const RETURN_WINDOWS = [1, 3, 6, 12, 24];
const VOLATILITY_WINDOW = 24;
const RSI_PERIOD = 14;
const MACD = { fast: 12, slow: 26, signal: 9 };
const VOLUME_WINDOW = 24;

export interface FeatureRows {
  /** One row per usable candle, columns in FEATURE_NAMES order. */
  X: number[][];
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

type Series = (number | undefined)[];

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function std(values: readonly number[], m = mean(values)): number {
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length);
}

/** EMA seeded with the simple mean of its first `period` defined values, the usual charting convention. */
function ema(values: Series, period: number): Series {
  const out: Series = new Array(values.length).fill(undefined);
  const alpha = 2 / (period + 1);
  const seed: number[] = [];
  let prev: number | undefined;
  values.forEach((v, i) => {
    if (v === undefined) return;
    if (prev === undefined) {
      seed.push(v);
      if (seed.length === period) prev = mean(seed);
    } else {
      prev = alpha * v + (1 - alpha) * prev;
    }
    out[i] = prev;
  });
  return out;
}

/** Wilder's RSI: averages of gains and losses smoothed with 1/period. */
function rsi(closes: readonly number[], period: number): Series {
  const out: Series = new Array(closes.length).fill(undefined);
  let avgGain = 0;
  let avgLoss = 0;
  for (let i = 1; i < closes.length; i++) {
    const change = closes[i] - closes[i - 1];
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
  return out;
}

function rolling(values: readonly number[], window: number, fn: (slice: number[]) => number): Series {
  return values.map((_, i) => (i + 1 >= window ? fn(values.slice(i + 1 - window, i + 1)) : undefined));
}

/**
 * Featureset fs1. Every feature at candle i uses candles up to i only; rows still warming up,
 * and the last candle (it has no next bar to label), are dropped.
 */
export function buildFeatures(candles: readonly Candle[]): FeatureRows {
  const closes = candles.map((c) => c.close);
  const logClose = closes.map(Math.log);
  const oneBar: Series = logClose.map((v, i) => (i > 0 ? v - logClose[i - 1] : undefined));

  const returns = RETURN_WINDOWS.map((w): Series => logClose.map((v, i) => (i >= w ? v - logClose[i - w] : undefined)));
  const oneBarDefined = oneBar.slice(1) as number[];
  const volatility: Series = [undefined, ...rolling(oneBarDefined, VOLATILITY_WINDOW, (s) => std(s))];
  const fast = ema(closes, MACD.fast);
  const slow = ema(closes, MACD.slow);
  const macdLine: Series = closes.map((_, i) => {
    const f = fast[i];
    const s = slow[i];
    return f !== undefined && s !== undefined ? f - s : undefined;
  });
  const signal = ema(macdLine, MACD.signal);
  // Divided by price so the histogram means the same on a $10 and a $10,000 market.
  const macdHist: Series = closes.map((c, i) => {
    const m = macdLine[i];
    const s = signal[i];
    return m !== undefined && s !== undefined ? (m - s) / c : undefined;
  });
  const volumeZ = rolling(
    candles.map((c) => c.volume),
    VOLUME_WINDOW,
    (s) => {
      const sd = std(s);
      return sd > 0 ? (s[s.length - 1] - mean(s)) / sd : 0;
    },
  );
  const columns: Series[] = [...returns, volatility, rsi(closes, RSI_PERIOD), macdHist, volumeZ];

  const rows: FeatureRows = { X: [], labels: [], nextReturns: [], candleIndex: [] };
  for (let i = 0; i + 1 < candles.length; i++) {
    const row = columns.map((col) => col[i]);
    if (row.some((v) => v === undefined)) continue;
    rows.X.push(row as number[]);
    rows.labels.push(closes[i + 1] > closes[i] ? 1 : 0);
    rows.nextReturns.push(logClose[i + 1] - logClose[i]);
    rows.candleIndex.push(i);
  }
  return rows;
}

/** Mean and std from the training rows only, so nothing about later rows leaks into the model. */
export function fitScaler(X: readonly number[][], trainRows: readonly number[]): Scaler {
  if (trainRows.length === 0) throw new Error('cannot fit a scaler on zero training rows');
  const meanCol: number[] = [];
  const stdCol: number[] = [];
  FEATURE_NAMES.forEach((_, j) => {
    const col = trainRows.map((r) => X[r][j]);
    const m = mean(col);
    const s = std(col, m);
    meanCol.push(m);
    // A constant column would divide by zero; leaving it unscaled keeps it harmless.
    stdCol.push(s > 0 ? s : 1);
  });
  return { featureNames: [...FEATURE_NAMES], mean: meanCol, std: stdCol };
}

export function applyScaler(scaler: Scaler, X: readonly number[][]): number[][] {
  return X.map((row) => row.map((v, j) => (v - scaler.mean[j]) / scaler.std[j]));
}
