import type { JobView } from '@trainyard/contracts';
import { askAgainAfterMs, verdictOf } from './attempt-verdict';

const job = (attempt: number, status: JobView['status']): JobView => ({
  jobId: 'r-BTCUSDT',
  runId: 'r',
  symbol: 'BTCUSDT',
  status,
  attempt,
  maxAttempts: 3,
  errorType: null,
  errorMessage: null,
  promote: 'auto',
  canary: false,
});

describe('whether a successful attempt counts, by the scheduler record', () => {
  it.each([
    [job(2, 'succeeded'), 2, 'counts'],
    [job(2, 'succeeded'), 1, 'fenced'],
    [job(2, 'running'), 1, 'fenced'],
    // A late success of the attempt about to be retried still counts, until the next one is released.
    [job(1, 'retry_wait'), 1, 'undecided'],
    [job(1, 'failed'), 1, 'fenced'],
    [job(1, 'cancelled'), 1, 'fenced'],
    [job(3, 'failed'), 2, 'fenced'],
    [job(1, 'running'), 1, 'undecided'],
    [job(1, 'leased'), 1, 'undecided'],
    [job(1, 'released'), 2, 'undecided'],
    [null, 1, 'undecided'],
  ] as const)('%j, attempt %i: %s', (record, attempt, kind) => {
    expect(verdictOf(record, attempt).kind).toBe(kind);
  });

  it("carries the scheduler's record of a job that counts: its run's promotion settings are what registration stores", () => {
    const record = { ...job(1, 'succeeded'), promote: 'dry' as const, canary: true };
    expect(verdictOf(record, 1)).toEqual({ kind: 'counts', job: record });
  });
});

describe('asking the scheduler again', () => {
  it('asks again soon after the first undecided answer, then less often, at most every 250 ms', () => {
    expect([1, 2, 3, 4, 5, 60].map(askAgainAfterMs)).toEqual([50, 100, 200, 250, 250, 250]);
  });
});
