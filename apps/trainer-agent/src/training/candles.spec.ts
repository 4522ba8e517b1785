import { endOfDataDate, generateSyntheticCandles, labelRegimes, timeframeMs, validateCandles, type Candle } from './candles';

const input = { symbol: 'BTCUSDT', date: '2024-06-01', timeframe: '1h' as const, count: 2000, seed: 7 };

describe('timeframeMs', () => {
  it('knows every timeframe', () => {
    expect(timeframeMs('1m')).toBe(60_000);
    expect(timeframeMs('15m')).toBe(900_000);
    expect(timeframeMs('4h')).toBe(14_400_000);
    expect(timeframeMs('1d')).toBe(86_400_000);
  });
});

describe('generateSyntheticCandles', () => {
  const { candles, regimes } = generateSyntheticCandles(input);

  it('is deterministic for the same inputs', () => {
    expect(generateSyntheticCandles(input)).toEqual({ candles, regimes });
  });

  it('gives other data for another symbol, date or seed', () => {
    for (const change of [{ symbol: 'ETHUSDT' }, { date: '2024-06-02' }, { seed: 8 }]) {
      const other = generateSyntheticCandles({ ...input, ...change }).candles;
      expect(other.map((c) => c.close)).not.toEqual(candles.map((c) => c.close));
    }
  });

  it('ends at the close of the data date, one timeframe apart', () => {
    expect(candles).toHaveLength(2000);
    const last = candles[candles.length - 1]!;
    expect(last.openTime + timeframeMs('1h')).toBe(Date.parse('2024-06-02T00:00:00Z'));
    expect(validateCandles(candles, '1h')).toEqual([]);
  });

  it('keeps OHLC consistent, prices and volumes positive, opens at the previous close', () => {
    candles.forEach((c, i) => {
      expect(c.high).toBeGreaterThanOrEqual(Math.max(c.open, c.close));
      expect(c.low).toBeLessThanOrEqual(Math.min(c.open, c.close));
      expect(c.low).toBeGreaterThan(0);
      expect(c.volume).toBeGreaterThan(0);
      if (i > 0) expect(c.open).toBe(candles[i - 1]?.close);
    });
  });

  it('switches between all three regimes, one per candle', () => {
    expect(regimes).toHaveLength(candles.length);
    expect(new Set(regimes)).toEqual(new Set(['bull', 'bear', 'sideways']));
    const switches = regimes.filter((r, i) => i > 0 && r !== regimes[i - 1]).length;
    expect(switches).toBeGreaterThan(5);
    expect(switches).toBeLessThan(200);
  });

  it('drifts with the regime', () => {
    const meanReturn = (regime: string) => {
      const rs = candles.flatMap((c, i) => (regimes[i] === regime ? [Math.log(c.close / c.open)] : []));
      return rs.reduce((a, b) => a + b, 0) / rs.length;
    };
    expect(meanReturn('bull')).toBeGreaterThan(meanReturn('bear'));
  });

  it('trades more volume on bigger moves', () => {
    const x = candles.map((c) => Math.abs(Math.log(c.close / c.open)));
    const y = candles.map((c) => c.volume);
    const mx = x.reduce((a, b) => a + b) / x.length;
    const my = y.reduce((a, b) => a + b) / y.length;
    const cov = x.reduce((a, xi, i) => a + (xi - mx) * (y[i]! - my), 0);
    expect(cov).toBeGreaterThan(0);
  });

  it('rejects a malformed date', () => {
    expect(() => endOfDataDate('2024/06/01')).toThrow(/YYYY-MM-DD/);
  });
});

describe('validateCandles', () => {
  const clean = generateSyntheticCandles({ ...input, count: 50 }).candles;
  const kinds = (candles: Candle[]) => validateCandles(candles, '1h').map(({ kind, index }) => ({ kind, index }));

  it('finds a missing interval', () => {
    const withGap = [...clean.slice(0, 10), ...clean.slice(12)];
    expect(kinds(withGap)).toEqual([{ kind: 'gap', index: 10 }]);
    expect(validateCandles(withGap, '1h')[0]?.detail).toMatch(/2 missing/);
  });

  it('finds a duplicate timestamp', () => {
    const withDuplicate = [...clean.slice(0, 20), ...clean.slice(19)];
    expect(kinds(withDuplicate)).toContainEqual({ kind: 'duplicate', index: 20 });
  });

  it('finds timestamps going backwards', () => {
    const swapped = [...clean.slice(0, 30), ...clean.slice(30, 32).reverse(), ...clean.slice(32)];
    expect(kinds(swapped)).toContainEqual({ kind: 'non_monotonic', index: 31 });
  });

  it('finds non-positive and inconsistent prices', () => {
    const bad = clean.map((c, i) => (i === 5 ? { ...c, low: 0 } : i === 6 ? { ...c, high: c.low / 2 } : c));
    expect(kinds(bad)).toEqual([
      { kind: 'bad_price', index: 5 },
      { kind: 'bad_price', index: 6 },
    ]);
  });
});

describe('labelRegimes', () => {
  const series = (step: (i: number) => number): Candle[] =>
    Array.from({ length: 60 }, (_, i) => {
      const close = 100 * Math.exp(step(i));
      return { openTime: i * 3_600_000, open: close, high: close, low: close, close, volume: 1 };
    });

  it('calls a steady climb bull and a steady fall bear', () => {
    const wiggle = (i: number) => 0.001 * Math.sin(i);
    expect(labelRegimes(series((i) => 0.01 * i + wiggle(i))).slice(30)).toEqual(new Array(30).fill('bull'));
    expect(labelRegimes(series((i) => -0.01 * i + wiggle(i))).slice(30)).toEqual(new Array(30).fill('bear'));
    expect(labelRegimes(series((i) => 0.01 * (i % 2))).slice(30)).toEqual(new Array(30).fill('sideways'));
  });
});
