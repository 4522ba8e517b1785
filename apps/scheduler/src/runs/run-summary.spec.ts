import type { JobEntity } from './job.entity';
import { runStatusOf, summarize } from './run-summary';

const job = (symbol: string, status: JobEntity['status'], trainSeconds: number | null, extra: Partial<JobEntity> = {}) =>
  ({ symbol, status, trainSeconds, attempt: 1, cost: 0.5, metrics: null, errorType: null, errorMessage: null, ...extra }) as JobEntity;

describe('run summary', () => {
  it('counts outcomes, averages and medians the train minutes of successes', () => {
    const s = summarize(
      [job('A', 'succeeded', 60), job('B', 'succeeded', 180), job('C', 'succeeded', 120), job('D', 'failed', null, { attempt: 3, errorType: 'oom', errorMessage: 'CUDA out of memory' })],
      [{ symbol: 'bad/x', reason: 'not a symbol' }],
      new Date('2026-11-23T00:00:00Z'),
      new Date('2026-11-23T00:10:00Z'),
    );
    expect(s).toMatchObject({ total_symbols: 5, succeeded: 3, failed: 1, skipped: 1, cancelled: 0, avg_train_minutes: 2, median_train_minutes: 2, total_wall_minutes: 10, cost: 2 });
    expect(s.by_symbol.D).toEqual({ status: 'failed', attempts: 3, trainMinutes: null, metrics: null, error: 'oom: CUDA out of memory' });
    expect(s.by_symbol['bad/x'].status).toBe('skipped');
    expect(runStatusOf(s)).toBe('partial');
  });

  it('medians an even count and names the run outcome', () => {
    const s = summarize([job('A', 'succeeded', 60), job('B', 'succeeded', 120)], [], new Date(0), new Date(0));
    expect(s.median_train_minutes).toBe(1.5);
    expect(runStatusOf(s)).toBe('succeeded');
    expect(runStatusOf(summarize([job('A', 'failed', null)], [], new Date(0), new Date(0)))).toBe('failed');
    expect(runStatusOf(summarize([job('A', 'cancelled', null)], [], new Date(0), new Date(0)))).toBe('cancelled');
    const skipped = summarize([job('A', 'skipped', null, { errorMessage: 'already trained by r1-A' })], [], new Date(0), new Date(0));
    expect(skipped.by_symbol.A).toMatchObject({ status: 'skipped', attempts: 0, error: 'already trained by r1-A' });
    expect(runStatusOf(skipped)).toBe('succeeded');
  });
});
