import { generateSyntheticCandles, type Candle } from './candles';
import { applyScaler, buildFeatures, FEATURE_NAMES, FEATURESET_VERSION, featureRow, fitScaler, matrixFromRows, rowCount, type FeatureMatrix, type FeatureRows } from './features';

const toRows = (m: FeatureMatrix) => Array.from({ length: rowCount(m) }, (_, k) => featureRow(m, k));
/** The rows as the reference implementation returns them: an array per row. */
const plain = ({ labels, nextReturns, candleIndex, ...m }: FeatureRows) => ({ X: toRows(m), labels, nextReturns, candleIndex });
type PlainRows = ReturnType<typeof plain>;

/** xs[i], failing the test with a clear message when it is not there. */
function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`no entry ${i} (length ${xs.length})`);
  return x;
}

// The plain version fs1 was first written as (arrays mapped and sliced): buildFeatures is a faster
// rewrite and must give the same numbers, bit for bit, or stored fs1 features would not match.
const RETURN_WINDOWS = [1, 3, 6, 12, 24];
const VOLATILITY_WINDOW = 24;
const RSI_PERIOD = 14;
const MACD = { fast: 12, slow: 26, signal: 9 };
const VOLUME_WINDOW = 24;
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

/** Wilder's RSI: averages of gains and losses smoothed with 1/period. (i and i - 1 are inside closes.) */
function rsi(closes: readonly number[], period: number): Series {
  const out: Series = new Array(closes.length).fill(undefined);
  let avgGain = 0;
  let avgLoss = 0;
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
  return out;
}

function rolling(values: readonly number[], window: number, fn: (slice: number[]) => number): Series {
  return values.map((_, i) => (i + 1 >= window ? fn(values.slice(i + 1 - window, i + 1)) : undefined));
}

/**
 * Featureset fs1. Every feature at candle i uses candles up to i only; rows still warming up,
 * and the last candle (it has no next bar to label), are dropped.
 */
function referenceFeatures(candles: readonly Candle[]): PlainRows {
  // Every index read below is checked against its array's bounds by the guard or the loop next to it.
  const closes = candles.map((c) => c.close);
  const logClose = closes.map(Math.log);
  const oneBar: Series = logClose.map((v, i) => (i > 0 ? v - logClose[i - 1]! : undefined));

  const returns = RETURN_WINDOWS.map((w): Series => logClose.map((v, i) => (i >= w ? v - logClose[i - w]! : undefined)));
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
      return sd > 0 ? (s[s.length - 1]! - mean(s)) / sd : 0;
    },
  );
  const columns: Series[] = [...returns, volatility, rsi(closes, RSI_PERIOD), macdHist, volumeZ];

  const rows: PlainRows = { X: [], labels: [], nextReturns: [], candleIndex: [] };
  for (let i = 0; i + 1 < candles.length; i++) {
    const row = columns.map((col) => col[i]);
    if (row.some((v) => v === undefined)) continue;
    rows.X.push(row as number[]);
    rows.labels.push(closes[i + 1]! > closes[i]! ? 1 : 0);
    rows.nextReturns.push(logClose[i + 1]! - logClose[i]!);
    rows.candleIndex.push(i);
  }
  return rows;
}

const { candles } = generateSyntheticCandles({ symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h', count: 300, seed: 1 });
const built = buildFeatures(candles);
const rows = plain(built);

describe('buildFeatures (fs1)', () => {
  it('names its version and one column per feature', () => {
    expect(FEATURESET_VERSION).toBe('fs1');
    expect(FEATURE_NAMES).toHaveLength(9);
    expect(rows.X.every((row) => row.length === FEATURE_NAMES.length && row.every(Number.isFinite))).toBe(true);
  });

  it('drops the warm-up rows and the last candle, keeping candle indices', () => {
    // The MACD signal line is the slowest to warm up: 26 closes for the slow EMA, then 9 MACD values.
    expect(rows.candleIndex[0]).toBe(33);
    expect(rows.candleIndex[rows.candleIndex.length - 1]).toBe(candles.length - 2);
    expect(rows.X).toHaveLength(candles.length - 1 - 33);
    expect(rows.candleIndex.every((c, k) => k === 0 || c === rows.candleIndex[k - 1]! + 1)).toBe(true);
  });

  it('labels the next bar and records its log return', () => {
    rows.candleIndex.forEach((i, k) => {
      const [bar, next] = [at(candles, i), at(candles, i + 1)];
      expect(rows.nextReturns[k]).toBeCloseTo(Math.log(next.close / bar.close), 12);
      expect(rows.labels[k]).toBe(next.close > bar.close ? 1 : 0);
    });
  });

  it('computes returns over their windows and keeps RSI in [0, 100]', () => {
    const k = 50;
    const i = at(rows.candleIndex, k);
    const col = (name: string) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]);
    const close = (j: number) => at(candles, j).close;
    expect(at(rows.X, k)[col('logret_1')]).toBeCloseTo(Math.log(close(i) / close(i - 1)), 12);
    expect(at(rows.X, k)[col('logret_24')]).toBeCloseTo(Math.log(close(i) / close(i - 24)), 12);
    expect(rows.X.every((row) => at(row, col('rsi_14')) >= 0 && at(row, col('rsi_14')) <= 100)).toBe(true);
    expect(rows.X.every((row) => at(row, col('volatility_24')) > 0)).toBe(true);
  });

  it('uses no future candle: changing later candles leaves earlier rows alone', () => {
    const cut = 200;
    const altered = candles.map((c, i) => (i > cut ? { ...c, close: c.close * 1.5, volume: c.volume * 3 } : c));
    const again = plain(buildFeatures(altered));
    const upTo = rows.candleIndex.indexOf(cut);
    expect(again.X.slice(0, upTo + 1)).toEqual(rows.X.slice(0, upTo + 1));
  });
});

describe('scaler', () => {
  const train = Array.from({ length: 100 }, (_, k) => k);

  it('is fitted on the training rows only', () => {
    const scaler = fitScaler(built, train);
    const shifted = rows.X.map((row, k) => (k >= 100 ? row.map((v) => v * 10 + 5) : row));
    expect(fitScaler(matrixFromRows(shifted), train)).toEqual(scaler);
    expect(scaler.mean[0]).toBeCloseTo(train.reduce((a, k) => a + at(at(rows.X, k), 0), 0) / train.length, 12);
    expect(scaler.featureNames).toEqual([...FEATURE_NAMES]);
  });

  it('scales only the rows asked for', () => {
    const scaler = fitScaler(built, train);
    expect(applyScaler(scaler, built, [5, 2])).toEqual([applyScaler(scaler, built)[5], applyScaler(scaler, built)[2]]);
  });

  it('standardises the training rows to mean 0, std 1', () => {
    const scaled = applyScaler(fitScaler(built, train), built);
    expect(scaled).toHaveLength(rows.X.length);
    FEATURE_NAMES.forEach((_, j) => {
      const col = train.map((k) => at(at(scaled, k), j));
      const mean = col.reduce((a, b) => a + b) / col.length;
      const variance = col.reduce((a, v) => a + (v - mean) ** 2, 0) / col.length;
      expect(mean).toBeCloseTo(0, 10);
      expect(variance).toBeCloseTo(1, 10);
    });
  });

  it('leaves a constant column finite', () => {
    const constant = rows.X.map((row) => [...row.slice(0, -1), 3]);
    const scaled = applyScaler(fitScaler(matrixFromRows(constant), train), matrixFromRows(constant));
    expect(scaled.every((row) => row[row.length - 1] === 0)).toBe(true);
  });
});

describe('buildFeatures against the reference implementation', () => {
  it.each([
    ['BTCUSDT', 300, '1h'],
    ['ETHUSDT', 2000, '5m'],
    ['SOLUSDT', 34, '1h'],
    ['XRPUSDT', 36, '1d'],
    ['ADAUSDT', 10, '1h'],
  ] as const)('gives the same bits for %s, %d %s candles', (symbol, count, timeframe) => {
    const { candles: some } = generateSyntheticCandles({ symbol, date: '2024-06-01', timeframe, count, seed: 9 });
    expect(plain(buildFeatures(some))).toEqual(referenceFeatures(some));
  });

  it('gives the same bits on flat volume and prices', () => {
    const flat: Candle[] = Array.from({ length: 80 }, (_, i) => ({ openTime: i * 3_600_000, open: 5, high: 5, low: 5, close: i % 10 === 0 ? 5.5 : 5, volume: 7 }));
    const ours = plain(buildFeatures(flat));
    expect(ours).toEqual(referenceFeatures(flat));
    expect(ours.X.length).toBeGreaterThan(0);
  });
});
