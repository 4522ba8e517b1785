/**
 * Grid sampler: visits every grid point once, in an order shuffled by the study seed.
 *
 * Stateless and restart-safe: the order is a fixed permutation of grid indices (a keyed Feistel
 * network with cycle walking, so large grids need no memory), and each call skips the points that
 * complete, pruned and running trials hold. Failed trials give their point back, so it is retried.
 * Trial n takes the j-th free point, where j counts the trial numbers below n missing from the
 * history: trials suggested concurrently from the same history get different points.
 */
import { deriveSeed, fmix32 } from './random';
import { gridAxes, gridIndex, gridPoint, MAX_GRID_SIZE, type Params, type SearchSpace } from './space';
import type { TrialRecord } from './trial';

const ROUNDS = 4;

/** A seeded bijection on [0, n). */
export class Shuffle {
  private readonly half: number;
  private readonly mask: number;
  private readonly keys: number[];

  constructor(
    readonly n: number,
    seed: number,
  ) {
    const bits = Math.max(2, Math.ceil(Math.log2(Math.max(n, 2))));
    this.half = 2 ** Math.ceil(bits / 2);
    this.mask = this.half - 1;
    this.keys = Array.from({ length: ROUNDS }, (_, r) => deriveSeed(seed, 'grid', r));
  }

  at(k: number): number {
    let x = k;
    do x = this.encrypt(x);
    while (x >= this.n);
    return x;
  }

  private encrypt(x: number): number {
    let left = Math.floor(x / this.half);
    let right = x % this.half;
    for (const key of this.keys) [left, right] = [right, (left ^ (fmix32(right ^ key) & this.mask)) >>> 0];
    return left * this.half + right;
  }
}

/**
 * The grid point for trialNumber, or null when no free point is left for it. Asking again for a
 * trial already in the history returns the point it was given.
 */
export function suggestGrid(space: SearchSpace, seed: number, trialNumber: number, history: readonly TrialRecord[]): Params | null {
  const axes = gridAxes(space);
  const size = axes.reduce((n, a) => n * a.values.length, 1);
  if (size > MAX_GRID_SIZE) throw new Error(`grid has ${size} points, more than the ${MAX_GRID_SIZE} the grid sampler supports`);
  const held = new Set<number>();
  for (const t of history) {
    if (t.state === 'failed' || t.number === trialNumber) continue;
    const i = gridIndex(axes, t.params);
    if (i >= 0) held.add(i);
  }
  const earlier = new Set(history.filter((t) => t.number < trialNumber).map((t) => t.number));
  let skip = trialNumber - earlier.size;
  const shuffle = new Shuffle(size, seed);
  for (let k = 0; k < size; k++) {
    const i = shuffle.at(k);
    if (held.has(i)) continue;
    if (skip-- === 0) return gridPoint(axes, i);
  }
  return null;
}
