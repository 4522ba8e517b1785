import { retryDelaySeconds, shouldRetry } from './retry-policy';

describe('retry policy', () => {
  it('retries environment faults while attempts remain, never deterministic ones', () => {
    expect(shouldRetry('agent_lost', true, 1, 3)).toBe(true);
    expect(shouldRetry('oom', true, 2, 3)).toBe(true);
    expect(shouldRetry('oom', true, 3, 3)).toBe(false);
    expect(shouldRetry('bad_data', false, 1, 3)).toBe(false);
    expect(shouldRetry('trainer_error', true, 1, 3)).toBe(false);
  });

  it('backs off exponentially with jitter in [0.5, 1.5) of the step', () => {
    expect(retryDelaySeconds(1, 30, () => 0)).toBe(15);
    expect(retryDelaySeconds(2, 30, () => 0.5)).toBe(60);
    expect(retryDelaySeconds(3, 30, () => 0.999)).toBeCloseTo(179.88, 1);
  });
});
