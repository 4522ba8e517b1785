import type { JobSpec } from '@trainyard/contracts';
import { gaussian, mulberry32, seedFromString } from './random';

export type Timeframe = JobSpec['timeframe'];
export type Regime = 'bull' | 'bear' | 'sideways';
export const REGIMES: readonly Regime[] = ['bull', 'bear', 'sideways'];

export interface Candle {
  /** Milliseconds since the epoch, UTC. */
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIMEFRAME_MS: Record<Timeframe, number> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '1h': HOUR,
  '4h': 4 * HOUR,
  '1d': DAY,
};

export function timeframeMs(tf: Timeframe): number {
  return TIMEFRAME_MS[tf];
}

/** Start of the UTC day after `date`: the close time of the last candle of that data date. */
export function endOfDataDate(date: string): number {
  const start = /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00.000Z`) : Number.NaN;
  if (Number.isNaN(start)) throw new Error(`invalid data date "${date}" (expected YYYY-MM-DD)`);
  return start + DAY;
}

/**
 * Per-bar drift and volatility of each regime, for 1h candles; other timeframes scale both by
 * sqrt(timeframe / 1h) so the signal-to-noise ratio a model sees is the same on every timeframe.
 */
const REGIME_PARAMS: Record<Regime, { drift: number; vol: number }> = {
  bull: { drift: 0.0012, vol: 0.008 },
  bear: { drift: -0.0015, vol: 0.012 },
  sideways: { drift: 0, vol: 0.005 },
};
/** Probability of staying in the current regime each bar: regimes last about 70 bars. */
const REGIME_STAY = 0.986;
/** A persistent latent trend (AR(1)) added to returns: the part that past returns help predict. */
const TREND_PERSISTENCE = 0.9;
const TREND_SHOCK = 0.001;

export interface SyntheticCandlesInput {
  symbol: string;
  /** The data date, YYYY-MM-DD: the last candle closes at the end of that UTC day. */
  date: string;
  timeframe: Timeframe;
  count: number;
  seed: number;
}

export interface SyntheticCandles {
  candles: Candle[];
  /** The regime that generated each candle's return. */
  regimes: Regime[];
}

/** The entry of a non-empty list at floor(u * length) for u in [0, 1): always one of its entries. */
function pickAt<T>(xs: readonly T[], u: number): T {
  return xs[Math.floor(u * xs.length)]!;
}

/**
 * A regime-switching random walk (Markov-switching bull/bear/sideways drift and volatility plus
 * an autocorrelated trend), deterministic in its inputs so a retrain reproduces the same data.
 */
export function generateSyntheticCandles(input: SyntheticCandlesInput): SyntheticCandles {
  const { symbol, date, timeframe, count, seed } = input;
  if (!Number.isInteger(count) || count < 1) throw new Error(`candle count must be a positive integer, got ${count}`);
  const tf = timeframeMs(timeframe);
  const firstOpen = endOfDataDate(date) - count * tf;
  const rng = mulberry32(seedFromString(`${symbol}|${date}|${seed}`));
  const normal = gaussian(rng);
  const scale = Math.sqrt(tf / HOUR);

  const trendStd = TREND_SHOCK / Math.sqrt(1 - TREND_PERSISTENCE ** 2);
  let trend = normal() * trendStd;
  let regime = pickAt(REGIMES, rng());
  let close = Math.exp(Math.log(10) + rng() * Math.log(1000));
  const baseVolume = 1000 * (1 + 9 * rng());

  const candles: Candle[] = [];
  const regimes: Regime[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0 && rng() >= REGIME_STAY) {
      const others = REGIMES.filter((r) => r !== regime);
      regime = pickAt(others, rng());
    }
    trend = TREND_PERSISTENCE * trend + TREND_SHOCK * normal();
    const { drift, vol } = REGIME_PARAMS[regime];
    const noise = normal();
    const logReturn = scale * (drift + trend + vol * noise);

    const open = close;
    close = open * Math.exp(logReturn);
    const wick = 0.5 * scale * vol;
    const high = Math.max(open, close) * Math.exp(Math.abs(normal()) * wick);
    const low = Math.min(open, close) * Math.exp(-Math.abs(normal()) * wick);
    // Busy bars trade more: volume grows with the size of the move relative to the regime's volatility.
    const volume = baseVolume * Math.exp((0.6 * Math.abs(logReturn)) / (scale * vol) + 0.3 * normal());
    candles.push({ openTime: firstOpen + i * tf, open, high, low, close, volume });
    regimes.push(regime);
  }
  return { candles, regimes };
}

/**
 * Regimes for candles that came without them (real market data): the trailing `window`-bar
 * return against its own noise, bull above +0.5 sigma, bear below -0.5 sigma, else sideways.
 */
export function labelRegimes(candles: readonly Candle[], window = 24): Regime[] {
  const logClose = candles.map((c) => Math.log(c.close));
  // from + k <= i and from <= i, so the indices below are inside logClose
  return logClose.map((v, i) => {
    const from = Math.max(0, i - window);
    const steps = logClose.slice(from + 1, i + 1).map((x, k) => x - logClose[from + k]!);
    if (steps.length < 2) return 'sideways';
    const m = steps.reduce((a, b) => a + b, 0) / steps.length;
    const sd = Math.sqrt(steps.reduce((a, r) => a + (r - m) ** 2, 0) / steps.length);
    const trend = v - logClose[from]!;
    const threshold = 0.5 * sd * Math.sqrt(steps.length);
    if (trend > threshold) return 'bull';
    if (trend < -threshold) return 'bear';
    return 'sideways';
  });
}

export interface CandleIssue {
  kind: 'gap' | 'duplicate' | 'non_monotonic' | 'bad_price';
  index: number;
  detail: string;
}

/**
 * Finds what would silently corrupt features: missing or irregular intervals, repeated or
 * backwards timestamps, and unusable values (bad_price also covers inconsistent OHLC and a
 * negative or non-finite volume).
 */
export function validateCandles(candles: readonly Candle[], timeframe: Timeframe): CandleIssue[] {
  const tf = timeframeMs(timeframe);
  const issues: CandleIssue[] = [];
  candles.forEach((c, index) => {
    const prices = [c.open, c.high, c.low, c.close];
    if (!prices.every((p) => Number.isFinite(p) && p > 0)) {
      issues.push({ kind: 'bad_price', index, detail: `non-positive or non-finite price in ${JSON.stringify(prices)}` });
    } else if (c.high < Math.max(c.open, c.close) || c.low > Math.min(c.open, c.close)) {
      issues.push({ kind: 'bad_price', index, detail: `inconsistent OHLC ${JSON.stringify(prices)}` });
    }
    if (!Number.isFinite(c.volume) || c.volume < 0) {
      issues.push({ kind: 'bad_price', index, detail: `bad volume ${c.volume}` });
    }
    const previous = candles[index - 1];
    if (!previous) return;
    const dt = c.openTime - previous.openTime;
    if (dt === 0) {
      issues.push({ kind: 'duplicate', index, detail: `openTime ${new Date(c.openTime).toISOString()} repeats the previous candle` });
    } else if (dt < 0) {
      issues.push({ kind: 'non_monotonic', index, detail: `openTime goes back ${-dt} ms` });
    } else if (dt !== tf) {
      const missing = dt % tf === 0 ? `${dt / tf - 1} missing interval(s)` : 'irregular spacing';
      issues.push({ kind: 'gap', index, detail: `${missing}: expected ${tf} ms after the previous candle, got ${dt} ms` });
    }
  });
  return issues;
}
