import { compareRelease, type Releasable } from '../repositories/release-order';

export interface SimulatedJob extends Releasable {
  /** The true duration; the scheduler orders by `expectedSeconds`. */
  seconds: number;
}

/**
 * Continuous release on `slots` slots in the scheduler's order: whenever a slot frees, the next job
 * in release order starts on it. Returns the makespan in seconds.
 */
export function simulateMakespan(jobs: SimulatedJob[], slots: number): number {
  const queue = [...jobs].sort(compareRelease);
  const slotFreeAt = new Array<number>(slots).fill(0);
  for (const job of queue) {
    // The slot that frees first (the lowest on a tie) takes the next job.
    const earliest = slotFreeAt.reduce((best, freeAt, slot) => (freeAt < best.freeAt ? { slot, freeAt } : best), { slot: 0, freeAt: Infinity });
    slotFreeAt[earliest.slot] = earliest.freeAt + job.seconds;
  }
  return Math.max(...slotFreeAt);
}

/** No schedule on `slots` slots can end before this: the work spread evenly, or the longest job. */
export function makespanLowerBound(jobs: SimulatedJob[], slots: number): number {
  const total = jobs.reduce((s, j) => s + j.seconds, 0);
  return Math.max(total / slots, ...jobs.map((j) => j.seconds));
}
