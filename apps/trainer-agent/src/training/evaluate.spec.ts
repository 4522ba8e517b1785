import type { Costs } from '@trainyard/contracts';
import { equityPoints, evaluateStrategy, position, type EvaluationInput } from './evaluate';

const free: Costs = { feeBps: 0, spreadBps: 0 };
const base: EvaluationInput = {
  probabilities: [0.7, 0.6, 0.3, 0.8],
  nextReturns: [0.01, -0.02, -0.01, 0.03],
  regimes: ['bull', 'bull', 'bear', 'sideways'],
  costs: free,
  timeframe: '1h',
  trainMeanAbsReturn: 0.01,
};

describe('position', () => {
  it('goes long above 0.5, short below, flat inside the dead zone', () => {
    expect([position(0.51), position(0.49), position(0.5)]).toEqual([1, -1, 0]);
    expect([position(0.55, 0.1), position(0.7, 0.1), position(0.3, 0.1)]).toEqual([0, 1, -1]);
  });
});

describe('evaluateStrategy', () => {
  it('compounds position * simple return into the equity curve', () => {
    const { equityCurve, metrics } = evaluateStrategy(base);
    const simple = base.nextReturns.map(Math.expm1);
    // Positions +1, +1, -1, +1.
    const steps = simple.map((r, i) => (i === 2 ? -r : r));
    const curve = steps.reduce((c, r) => [...c, c[c.length - 1]! * (1 + r)], [1]);
    expect(equityCurve).toHaveLength(5);
    expect(equityCurve).toEqual(curve.map((e) => expect.closeTo(e, 12)));
    expect(metrics.totalReturn).toBeCloseTo(curve[4]! - 1, 12);
    expect(metrics.directionalHitRate).toBe(0.75);
    // The only drawdown is bar 2's 2% loss (its simple return) from the peak after bar 1.
    expect(metrics.maxDrawdown).toBeCloseTo(-simple[1]!, 12);
  });

  it('charges fee + spread per unit of position change: entry 1, flip 2', () => {
    const costs = { feeBps: 7, spreadBps: 3 };
    const gross = evaluateStrategy(base).equityCurve;
    const paid = evaluateStrategy({ ...base, costs }).equityCurve;
    const turnover = [1, 0, 2, 2];
    const unit = 10 / 10_000;
    expect(gross).toHaveLength(turnover.length + 1);
    expect(paid).toHaveLength(turnover.length + 1);
    turnover.forEach((t, k) => {
      const grossStep = gross[k + 1]! / gross[k]! - 1;
      expect(paid[k + 1]! / paid[k]! - 1).toBeCloseTo(grossStep - t * unit, 12);
    });
  });

  it('lowers the total return as costs rise, for the same predictions', () => {
    const returns = [0, 0.3, 0.5, 5, 10, 50].map((bps) => evaluateStrategy({ ...base, costs: { feeBps: bps, spreadBps: bps } }).metrics.totalReturn);
    // returns[k] is the one before r.
    returns.slice(1).forEach((r, k) => expect(r).toBeLessThan(returns[k]! + 1e-15));
    expect(returns.at(-1)).toBeLessThan(returns[0]!);
  });

  it('scores predicted returns against actual ones', () => {
    const { metrics } = evaluateStrategy(base);
    const predicted = base.probabilities.map((p) => (2 * p - 1) * 0.01);
    // evaluateStrategy above has checked there is a return per probability.
    const errors = predicted.map((p, i) => p - base.nextReturns[i]!);
    expect(metrics.mae).toBeCloseTo(errors.reduce((a, e) => a + Math.abs(e), 0) / 4, 12);
    expect(metrics.rmse).toBeCloseTo(Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / 4), 12);
    expect(metrics.mape).toBeCloseTo(errors.reduce((a, e, i) => a + Math.abs(e / base.nextReturns[i]!), 0) / 4, 12);
    expect(metrics.r2).toBeLessThanOrEqual(1);
  });

  it('ignores zero-return bars for hit rate and MAPE', () => {
    const { metrics } = evaluateStrategy({ ...base, nextReturns: [0.01, 0, -0.01, 0] });
    expect(metrics.directionalHitRate).toBe(1);
    expect(Number.isFinite(metrics.mape)).toBe(true);
  });

  it('stays finite when nothing moves', () => {
    const { metrics, equityCurve } = evaluateStrategy({ ...base, probabilities: [0.5, 0.5, 0.5, 0.5], nextReturns: [0, 0, 0, 0] });
    expect(Object.values(metrics).every(Number.isFinite)).toBe(true);
    expect(metrics).toMatchObject({ sharpe: 0, maxDrawdown: 0, totalReturn: 0, directionalHitRate: 0, r2: 0, mape: 0 });
    expect(equityCurve).toEqual([1, 1, 1, 1, 1]);
  });

  it('annualises Sharpe by the timeframe', () => {
    const hourly = evaluateStrategy(base).metrics.sharpe;
    const daily = evaluateStrategy({ ...base, timeframe: '1d' }).metrics.sharpe;
    expect(hourly / daily).toBeCloseTo(Math.sqrt(24), 10);
  });

  it('breaks results down by regime', () => {
    const { regimes } = evaluateStrategy(base);
    expect(regimes.bull).toEqual({ hitRate: 0.5, totalReturn: expect.closeTo((1 + Math.expm1(0.01)) * (1 + Math.expm1(-0.02)) - 1, 12), bars: 2 });
    expect(regimes.bear).toMatchObject({ hitRate: 1, bars: 1 });
    expect(regimes.sideways).toMatchObject({ hitRate: 1, bars: 1 });
  });

  it('insists on one regime and return per probability', () => {
    expect(() => evaluateStrategy({ ...base, regimes: ['bull'] })).toThrow(/one entry per row/);
  });
});

describe('equityPoints', () => {
  const curve = Array.from({ length: 1201 }, (_, i) => 1 + i / 1000);

  it('keeps every point of a short curve, at bar times', () => {
    expect(equityPoints(curve.slice(0, 3), 1000, 60_000)).toEqual([
      { t: 1000, equity: 1 },
      { t: 61_000, equity: 1.001 },
      { t: 121_000, equity: 1.002 },
    ]);
  });

  it('thins a long curve to at most 500 evenly spaced points, keeping the first and the last', () => {
    const points = equityPoints(curve, 0, 3_600_000);
    expect(points).toHaveLength(500);
    expect(points[0]).toEqual({ t: 0, equity: 1 });
    expect(points[499]).toEqual({ t: 1200 * 3_600_000, equity: curve[1200] });
    const steps = points.slice(1).map((p, i) => (p.t - points[i]!.t) / 3_600_000);
    expect(Math.min(...steps)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...steps)).toBeLessThanOrEqual(3);
    expect(points.every((p) => p.equity === curve[p.t / 3_600_000])).toBe(true);
    expect(equityPoints(curve, 0, 1, 50)).toHaveLength(50);
  });
});
