import { generateSyntheticCandles } from './candles';
import { applyScaler, buildFeatures, FEATURE_NAMES, FEATURESET_VERSION, fitScaler } from './features';

const { candles } = generateSyntheticCandles({ symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h', count: 300, seed: 1 });
const rows = buildFeatures(candles);

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
    expect(rows.candleIndex.every((c, k) => k === 0 || c === rows.candleIndex[k - 1] + 1)).toBe(true);
  });

  it('labels the next bar and records its log return', () => {
    rows.candleIndex.forEach((i, k) => {
      expect(rows.nextReturns[k]).toBeCloseTo(Math.log(candles[i + 1].close / candles[i].close), 12);
      expect(rows.labels[k]).toBe(candles[i + 1].close > candles[i].close ? 1 : 0);
    });
  });

  it('computes returns over their windows and keeps RSI in [0, 100]', () => {
    const k = 50;
    const i = rows.candleIndex[k];
    const col = (name: string) => FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number]);
    expect(rows.X[k][col('logret_1')]).toBeCloseTo(Math.log(candles[i].close / candles[i - 1].close), 12);
    expect(rows.X[k][col('logret_24')]).toBeCloseTo(Math.log(candles[i].close / candles[i - 24].close), 12);
    expect(rows.X.every((row) => row[col('rsi_14')] >= 0 && row[col('rsi_14')] <= 100)).toBe(true);
    expect(rows.X.every((row) => row[col('volatility_24')] > 0)).toBe(true);
  });

  it('uses no future candle: changing later candles leaves earlier rows alone', () => {
    const cut = 200;
    const altered = candles.map((c, i) => (i > cut ? { ...c, close: c.close * 1.5, volume: c.volume * 3 } : c));
    const again = buildFeatures(altered);
    const upTo = rows.candleIndex.indexOf(cut);
    expect(again.X.slice(0, upTo + 1)).toEqual(rows.X.slice(0, upTo + 1));
  });
});

describe('scaler', () => {
  const train = Array.from({ length: 100 }, (_, k) => k);

  it('is fitted on the training rows only', () => {
    const scaler = fitScaler(rows.X, train);
    const shifted = rows.X.map((row, k) => (k >= 100 ? row.map((v) => v * 10 + 5) : row));
    expect(fitScaler(shifted, train)).toEqual(scaler);
    expect(scaler.mean[0]).toBeCloseTo(train.reduce((a, k) => a + rows.X[k][0], 0) / train.length, 12);
    expect(scaler.featureNames).toEqual([...FEATURE_NAMES]);
  });

  it('standardises the training rows to mean 0, std 1', () => {
    const scaled = applyScaler(fitScaler(rows.X, train), rows.X);
    expect(scaled).toHaveLength(rows.X.length);
    FEATURE_NAMES.forEach((_, j) => {
      const col = train.map((k) => scaled[k][j]);
      const mean = col.reduce((a, b) => a + b) / col.length;
      const variance = col.reduce((a, v) => a + (v - mean) ** 2, 0) / col.length;
      expect(mean).toBeCloseTo(0, 10);
      expect(variance).toBeCloseTo(1, 10);
    });
  });

  it('leaves a constant column finite', () => {
    const constant = rows.X.map((row) => [...row.slice(0, -1), 3]);
    const scaled = applyScaler(fitScaler(constant, train), constant);
    expect(scaled.every((row) => row[row.length - 1] === 0)).toBe(true);
  });
});
