import type { EventMessage, Metrics } from '@trainyard/contracts';
import { runModelsAnswer, type RunVersion } from '@trainyard/messaging';
import { describeEvent, formatPlan, formatPromotions, promotionFields } from './format';

const planned = (over: Partial<EventMessage<'run.planned'>>): EventMessage<'run.planned'> => ({
  schemaVersion: 1,
  id: 'p',
  occurredAt: '2026-12-01T00:00:00.000Z',
  runId: 'big',
  date: '2026-12-01',
  jobs: [{ jobId: 'big-AUSDT', symbol: 'AUSDT', priority: 'normal', specHash: 'a'.repeat(64), trainingHash: 'b'.repeat(64) }],
  skipped: [{ symbol: 'BUSDT', reason: 'already trained' }],
  forecast: { gpuHours: 1, cost: 2, wallMinutes: 3 },
  dryRun: true,
  ...over,
});

describe('a plan too large for one message, as the CLI prints it', () => {
  it('counts the jobs and skipped entries the message left out, and says where the rest is', () => {
    const m = planned({ jobsOmitted: 4999, skippedOmitted: 9, planUri: 's3://bucket/runs/big/plan.json' });
    expect(describeEvent('run.planned', m)).toBe('planned big for 2026-12-01: 5000 jobs, 10 skipped, forecast 3.0 min');
    const text = formatPlan(m);
    expect(text).toContain('dry run big (2026-12-01): 5000 jobs, nothing launched');
    expect(text).toContain('… and 4999 more, in s3://bucket/runs/big/plan.json');
    expect(text).toContain('… and 9 more skipped, in s3://bucket/runs/big/plan.json');
  });

  it('prints a whole plan as before', () => {
    const text = formatPlan(planned({}));
    expect(text).toContain(': 1 jobs, nothing launched');
    expect(text).not.toContain('more');
  });
});

describe("a run's promotions as the CLI prints them", () => {
  const metrics: Metrics = { directionalHitRate: 0.55, sharpe: 1.2, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1.3, r2: 0.05 };
  const version = (i: number, outcome: 'promote' | 'reject'): RunVersion => ({
    symbol: `S${String(i).padStart(4, '0')}USDT`,
    version: 2,
    stage: 'candidate',
    runId: 'big',
    jobId: `big-S${i}`,
    createdAt: '2026-12-01T00:00:00.000Z',
    promotedAt: null,
    metrics,
    artifactsPrefix: `models/S${i}USDT/attempt-1`,
    pruned: false,
    decision: {
      outcome,
      rule: outcome === 'promote' ? 'higher_hit_rate' : 'lower_hit_rate',
      mode: 'auto',
      applied: outcome === 'promote',
      reason: 'hit rate 0.5500 against 0.5400',
      productionVersion: 1,
    },
    baseline: null,
  });
  const completed = (succeeded: number) => ({ summary: { succeeded } }) as EventMessage<'run.completed'>;

  it('lists what the answer carried and counts the rest of a large run', () => {
    const versions = Array.from({ length: 3000 }, (_, i) => version(i, i % 3 === 0 ? 'promote' : 'reject'));
    const answer = runModelsAnswer(versions, 768 * 1024);
    expect(answer.omitted).toBeGreaterThan(0);
    const text = formatPromotions(completed(3002), answer);
    expect(text).toContain(`… and ${answer.omitted} more (in all: 1000 promoted, 0 would promote, 2000 refused, 0 not compared)`);
    expect(text).toContain('2 succeeded job(s) not registered yet');
    // The promoted ones were kept first.
    expect(text.split('\n').filter((l) => l.includes(' promoted '))).toHaveLength(1000);
  });

  it('says a run that trained nothing has nothing to decide, not that the promoter did not answer', () => {
    // A day run again: every symbol skipped as already trained, so no version to wait for.
    expect(formatPromotions(completed(0), null).split('\n').slice(1)).toEqual(['  promotion:', '    none: no job of this run trained a model']);
    expect(promotionFields(completed(0), null)).toEqual({ promotions: [] });
    expect(formatPromotions(completed(2), null)).toContain('unknown: the promoter did not answer');
    expect(promotionFields(completed(2), null)).toEqual({ promotions: null });
  });

  it('prints every version of a run that fits, and nothing about omissions', () => {
    const text = formatPromotions(completed(2), runModelsAnswer([version(1, 'promote'), version(2, 'reject')], 1024 * 1024));
    expect(text.split('\n').slice(2)).toEqual([
      '    S0001USDT    v2    promoted       higher_hit_rate: hit rate 0.5500 against 0.5400',
      '    S0002USDT    v2    refused        lower_hit_rate: hit rate 0.5500 against 0.5400',
    ]);
  });
});
