export interface Releasable {
  priorityRank: number;
  expectedSeconds: number;
  symbol: string;
}

/**
 * Release order: highest priority first, then longest expected first (the slowest jobs start early,
 * so the run does not end waiting on one), then by symbol for determinism. JobRepository.claimReleasable
 * orders its query the same way, along the index jobs_release_order.
 */
export function compareRelease(a: Releasable, b: Releasable): number {
  return a.priorityRank - b.priorityRank || b.expectedSeconds - a.expectedSeconds || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}
