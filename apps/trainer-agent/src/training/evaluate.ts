import type { Costs, Metrics } from '@trainyard/contracts';
import { REGIMES, timeframeMs, type Regime, type Timeframe } from './candles';

const YEAR_MS = 365 * 24 * 60 * 60 * 1000;
/** Below this an actual return is treated as zero: it would blow MAPE up without saying anything. */
const MAPE_FLOOR = 1e-9;

export interface RegimeStats {
  hitRate: number;
  totalReturn: number;
  bars: number;
}
export type RegimeBreakdown = Record<Regime, RegimeStats>;

export interface EvaluationInput {
  /** P(up) for each test row, in time order. */
  probabilities: readonly number[];
  /** The log return each row's position is exposed to (this close to the next). */
  nextReturns: readonly number[];
  /** The regime of the bar each row trades, one per row. */
  regimes: readonly Regime[];
  costs: Costs;
  timeframe: Timeframe;
  /** Mean |log return| on the training rows: scales a probability into a predicted return. */
  trainMeanAbsReturn: number;
  /** Stay flat while |p - 0.5| <= deadZone. 0 (the default) trades every bar except p exactly 0.5. */
  deadZone?: number;
}

export interface Evaluation {
  metrics: Metrics;
  regimes: RegimeBreakdown;
  /** Compounded equity, starting at 1 before the first test bar: one more point than rows. */
  equityCurve: number[];
}

/** One point of an equity curve: equity after the bar that closes at `t` (the first point: before the first bar, at its open). */
export interface EquityPoint {
  /** Epoch milliseconds. */
  t: number;
  equity: number;
}

/**
 * An equity curve with its bar times, thinned to at most `max` evenly spaced points that keep the
 * first and the last: enough to draw, small enough to send.
 */
export function equityPoints(curve: readonly number[], firstOpen: number, stepMs: number, max = 500): EquityPoint[] {
  if (max < 2) throw new Error(`an equity curve needs at least 2 points, asked for ${max}`);
  const n = curve.length;
  const picks = n <= max ? curve.map((_, i) => i) : Array.from({ length: max }, (_, j) => Math.round((j * (n - 1)) / (max - 1)));
  // every pick is in 0..n-1
  return picks.map((i) => ({ t: firstOpen + i * stepMs, equity: curve[i]! }));
}

export function position(p: number, deadZone = 0): -1 | 0 | 1 {
  if (p > 0.5 + deadZone) return 1;
  if (p < 0.5 - deadZone) return -1;
  return 0;
}

/** Zero instead of NaN or Infinity: metrics are stored and compared, and JSON has no NaN. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** Fraction of bars where the position's sign matched the move; flat positions and zero moves are not calls. (One return per position.) */
function hitRate(positions: readonly number[], returns: readonly number[]): number {
  let calls = 0;
  let hits = 0;
  positions.forEach((pos, i) => {
    const r = returns[i]!;
    if (pos === 0 || r === 0) return;
    calls++;
    if (Math.sign(pos) === Math.sign(r)) hits++;
  });
  return calls ? hits / calls : 0;
}

function compound(returns: readonly number[]): number {
  return returns.reduce((equity, r) => equity * Math.max(1 + r, 0), 1) - 1;
}

function maxDrawdown(equity: readonly number[]): number {
  let peak = -Infinity; // the first point then sets it, as equity[0] would
  let worst = 0;
  for (const e of equity) {
    peak = Math.max(peak, e);
    if (peak > 0) worst = Math.max(worst, (peak - e) / peak);
  }
  return worst;
}

/** Mean absolute percentage error, skipping bars whose actual return is ~0. (One actual return per error.) */
function mapeOf(errors: readonly number[], actual: readonly number[]): number {
  const ratios = errors.flatMap((e, i) => (Math.abs(actual[i]!) >= MAPE_FLOOR ? [Math.abs(e / actual[i]!)] : []));
  return mean(ratios);
}

/**
 * Backtests the long/short strategy on the test rows. Each bar the strategy holds the position
 * decided at the previous close, earns position * (e^r - 1) (the simple return, so equity
 * compounds exactly) and pays (fee + spread) bps of notional per unit of position change,
 * starting flat: entering costs 1 unit, a flip from -1 to +1 costs 2.
 */
export function evaluateStrategy(input: EvaluationInput): Evaluation {
  const { probabilities, nextReturns, regimes, costs, timeframe, trainMeanAbsReturn, deadZone = 0 } = input;
  if (nextReturns.length !== probabilities.length || regimes.length !== probabilities.length) {
    throw new Error('probabilities, nextReturns and regimes must have one entry per row');
  }
  // From here on every per-row array has one entry per row (checked above), so row indices are in range.
  const costPerUnit = (costs.feeBps + costs.spreadBps) / 10_000;
  const positions = probabilities.map((p) => position(p, deadZone));
  const strategyReturns = positions.map((pos, i) => {
    const turnover = Math.abs(pos - (i > 0 ? positions[i - 1]! : 0));
    return pos * Math.expm1(nextReturns[i]!) - turnover * costPerUnit;
  });

  let equity = 1;
  const equityCurve = [equity];
  for (const r of strategyReturns) {
    equity = equity * Math.max(1 + r, 0);
    equityCurve.push(equity);
  }

  const m = mean(strategyReturns);
  const sd = Math.sqrt(mean(strategyReturns.map((r) => (r - m) ** 2)));
  const periodsPerYear = YEAR_MS / timeframeMs(timeframe);

  const predicted = probabilities.map((p) => (2 * p - 1) * trainMeanAbsReturn);
  const errors = predicted.map((p, i) => p - nextReturns[i]!);
  const meanActual = mean(nextReturns);
  const ssRes = errors.reduce((a, e) => a + e * e, 0);
  const ssTot = nextReturns.reduce((a, r) => a + (r - meanActual) ** 2, 0);

  const metrics: Metrics = {
    directionalHitRate: hitRate(positions, nextReturns),
    sharpe: finite(sd > 0 ? (m / sd) * Math.sqrt(periodsPerYear) : 0),
    maxDrawdown: maxDrawdown(equityCurve),
    totalReturn: finite(equity - 1),
    mae: finite(mean(errors.map(Math.abs))),
    rmse: finite(Math.sqrt(mean(errors.map((e) => e * e)))),
    mape: finite(mapeOf(errors, nextReturns)),
    r2: finite(ssTot > 0 ? 1 - ssRes / ssTot : 0),
  };

  const breakdown = Object.fromEntries(
    REGIMES.map((regime) => {
      const rows = regimes.flatMap((r, i) => (r === regime ? [i] : []));
      const stats: RegimeStats = {
        hitRate: hitRate(
          rows.map((i) => positions[i]!),
          rows.map((i) => nextReturns[i]!),
        ),
        totalReturn: finite(compound(rows.map((i) => strategyReturns[i]!))),
        bars: rows.length,
      };
      return [regime, stats];
    }),
  ) as RegimeBreakdown;

  return { metrics, regimes: breakdown, equityCurve };
}
