import { makespanLowerBound, simulateMakespan, type SimulatedJob } from './release-simulation';

const job = (symbol: string, seconds: number, priorityRank = 2): SimulatedJob => ({ symbol, seconds, expectedSeconds: seconds, priorityRank });

describe('release simulation', () => {
  it('starts the longest jobs first, which avoids a long tail', () => {
    const jobs = [job('A', 1), job('B', 1), job('C', 1), job('D', 1), job('E', 4)];
    // Longest first: E on one slot, the four short ones on the other -> 4. Shortest first would end at 6.
    expect(simulateMakespan(jobs, 2)).toBe(4);
    expect(makespanLowerBound(jobs, 2)).toBe(4);
  });

  it('keeps priority above duration', () => {
    const jobs = [job('LONG', 10, 3), job('URGENT', 1, 0)];
    expect(simulateMakespan(jobs, 1)).toBe(11);
    expect(makespanLowerBound(jobs, 1)).toBe(11);
  });
});
