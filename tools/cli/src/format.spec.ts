import type { EventMessage } from '@trainyard/contracts';
import { describeEvent, formatPlan } from './format';

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
