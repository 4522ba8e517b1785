import { withRetryAfter } from '../telegram/retry-after';
import { parseCommandLine } from './command-line';

describe('command lines', () => {
  it('splits a command from its arguments, ignoring other bots and plain text', () => {
    expect(parseCommandLine('/Run  BTCUSDT,ETHUSDT   --promote auto', 'trainyard_bot')).toEqual({ name: 'run', args: ['BTCUSDT,ETHUSDT', '--promote', 'auto'] });
    expect(parseCommandLine('/status@Trainyard_Bot', 'trainyard_bot')).toEqual({ name: 'status', args: [] });
    expect(parseCommandLine('/status@other_bot', 'trainyard_bot')).toBeNull();
    expect(parseCommandLine('good morning', 'trainyard_bot')).toBeNull();
    // A phone's smart punctuation turns -- into a dash.
    expect(parseCommandLine('/run top10 —dry-run –force', null)?.args).toEqual(['top10', '--dry-run', '--force']);
  });
});

describe('waiting out flood control', () => {
  const flood = (retryAfter: number) => Object.assign(new Error('429'), { retryAfter });
  const retryAfterOf = (err: unknown) => (err as { retryAfter?: number }).retryAfter;

  it('waits retry_after seconds between tries, a bounded number of times', async () => {
    const waits: number[] = [];
    let calls = 0;
    const call = async () => {
      if (++calls < 3) throw flood(calls * 2);
      return 'sent';
    };
    await expect(withRetryAfter(call, retryAfterOf, { maxRetries: 3, maxWaitSeconds: 10, sleep: async (ms) => void waits.push(ms) })).resolves.toBe('sent');
    expect(waits).toEqual([2000, 4000]);
    calls = 0;
    await expect(withRetryAfter(call, retryAfterOf, { maxRetries: 1, maxWaitSeconds: 10, sleep: async () => undefined })).rejects.toThrow('429');
    calls = 0;
    await expect(withRetryAfter(call, retryAfterOf, { maxRetries: 5, maxWaitSeconds: 1, sleep: async () => undefined })).rejects.toThrow('429');
    await expect(withRetryAfter(async () => Promise.reject(new Error('400')), retryAfterOf, { maxRetries: 5, maxWaitSeconds: 10 })).rejects.toThrow('400');
  });
});
