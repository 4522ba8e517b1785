import type { EventInput, RunSummary } from '@trainyard/contracts';
import { jsonBytes } from '@trainyard/messaging';
import { fitCompletion, fitPlan } from './message-fit';

const hash = (n: number) => n.toString(16).padStart(64, '0');

const plan = (jobs: number, skipped: number): EventInput<'run.planned'> & { planUri: string } => ({
  runId: 'fit',
  date: '2026-12-01',
  jobs: Array.from({ length: jobs }, (_, i) => ({ jobId: `fit-S${i}USDT`, symbol: `S${i}USDT`, priority: 'normal' as const, specHash: hash(i), trainingHash: hash(i + 1) })),
  skipped: Array.from({ length: skipped }, (_, i) => ({ symbol: `K${i}USDT`, reason: 'already trained by an earlier run' })),
  forecast: { gpuHours: 1, cost: 1, wallMinutes: 1 },
  dryRun: false,
  planUri: 'file:///runs/fit/plan.json',
});

const completion = (symbols: number): EventInput<'run.completed'> => {
  const by_symbol: RunSummary['by_symbol'] = {};
  for (let i = 0; i < symbols; i++)
    by_symbol[`S${i}USDT`] = {
      status: 'succeeded',
      attempts: 1,
      trainMinutes: 1.5,
      metrics: { directionalHitRate: 0.51, sharpe: 1.2, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 0.03, r2: 0.1 },
      error: null,
    };
  const summary: RunSummary = {
    total_symbols: symbols,
    succeeded: symbols,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    avg_train_minutes: 1.5,
    median_train_minutes: 1.5,
    total_wall_minutes: 3,
    cost: 0,
    by_symbol,
  };
  return { runId: 'fit', date: '2026-12-01', status: 'succeeded', summary, summaryUri: 'file:///runs/fit/engine_summary.json' };
};

describe('fitting run messages to the bus', () => {
  it('sends a plan that fits whole, without a planUri', () => {
    const fitted = fitPlan(plan(10, 2), 1024 * 1024);
    expect(fitted.jobs).toHaveLength(10);
    expect(fitted.skipped).toHaveLength(2);
    expect(fitted).not.toHaveProperty('jobsOmitted');
    expect(JSON.parse(JSON.stringify(fitted))).not.toHaveProperty('planUri');
  });

  it.each([
    [5000, 0],
    [3000, 4000],
    [0, 20000],
  ])('cuts a plan of %i jobs and %i skipped to the limit, saying how many it left out', (jobs, skipped) => {
    const limit = 200_000;
    const fitted = fitPlan(plan(jobs, skipped), limit);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(limit);
    expect(fitted.jobs.length + (fitted.jobsOmitted ?? 0)).toBe(jobs);
    expect(fitted.skipped.length + (fitted.skippedOmitted ?? 0)).toBe(skipped);
    expect(fitted.planUri).toBe('file:///runs/fit/plan.json');
    // Nearly full: no room was left for another entry of either list.
    expect(jsonBytes(fitted)).toBeGreaterThan(limit - 300);
  });

  it('cuts by_symbol of a large run.completed to the limit and keeps every count', () => {
    const limit = 100_000;
    const whole = completion(5000);
    const fitted = fitCompletion(whole, limit);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(limit);
    const kept = Object.keys(fitted.summary.by_symbol);
    expect(kept.length + (fitted.summary.by_symbol_omitted ?? 0)).toBe(5000);
    expect(kept).toEqual(Object.keys(whole.summary.by_symbol).slice(0, kept.length));
    expect(fitted.summary.succeeded).toBe(5000);
    expect(fitCompletion(completion(3), limit)).toEqual(completion(3));
  });
});
