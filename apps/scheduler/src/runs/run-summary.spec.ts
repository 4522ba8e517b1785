import type { JobOutcome } from '../repositories/run.repository';
import { runStatusOf, summarize } from './run-summary';

const job = (symbol: string, status: JobOutcome['status'], trainSeconds: number | null, extra: Partial<JobOutcome> = {}): JobOutcome => ({
  id: `r1-${symbol}`,
  symbol,
  status,
  trainSeconds,
  attempt: 1,
  cost: 0.5,
  metrics: null,
  errorType: null,
  errorMessage: null,
  variant: null,
  ...extra,
});
const specialist = (symbol: string, variant: 'bull' | 'bear', status: JobOutcome['status']) => job(symbol, status, status === 'succeeded' ? 60 : null, { id: `r1-${symbol}-${variant}`, variant });

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
    expect(s.by_symbol['bad/x']?.status).toBe('skipped');
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
    expect(skipped).not.toHaveProperty('by_variant');
  });

  it('keys specialists as the registry does and groups the outcomes by variant', () => {
    const s = summarize(
      [job('BTCUSDT', 'succeeded', 60), specialist('BTCUSDT', 'bull', 'succeeded'), specialist('BTCUSDT', 'bear', 'failed'), specialist('ETHUSDT', 'bull', 'succeeded')],
      [{ symbol: 'NOPE', reason: 'not in the universe' }],
      new Date(0),
      new Date(0),
    );
    expect(Object.keys(s.by_symbol).sort()).toEqual(['BTCUSDT', 'BTCUSDT/bear', 'BTCUSDT/bull', 'ETHUSDT/bull', 'NOPE']);
    expect(s).toMatchObject({ total_symbols: 5, succeeded: 3, failed: 1, skipped: 1 });
    expect(s.by_variant).toEqual({
      default: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
      bull: { total: 2, succeeded: 2, failed: 0, skipped: 0, cancelled: 0 },
      bear: { total: 1, succeeded: 0, failed: 1, skipped: 0, cancelled: 0 },
    });
  });
});
