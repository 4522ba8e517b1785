/**
 * Parameter importance by fANOVA (Hutter et al., ICML 2014), like Optuna's FanovaImportanceEvaluator:
 * fit a seeded random forest to the objective, then per tree take the variance of each parameter's
 * marginal prediction (averaging the tree over all other parameters, uniformly over the search
 * space) as a share of the tree's total variance; average the shares over trees and normalise.
 *
 * Differences from Optuna: log parameters are measured in log space (Optuna uses the raw scale),
 * and a categorical is one feature split into subsets of choices (Breiman's ordering by mean
 * objective) instead of one-hot columns. Only first-order effects are reported.
 */
import { rngFor } from './random';
import { containsValue, paramEntries, type ParamSpec, type SearchSpace } from './space';
import { isScored, type TrialRecord } from './trial';

/** The forest: nTrees (default 32) bootstrap trees of depth ≤ maxDepth (default 8), every feature tried at each split, seeded by seed (default 0). */
export interface ImportanceOptions {
  seed?: number;
  nTrees?: number;
  maxDepth?: number;
}

type Feature = { kind: 'numeric'; lo: number; hi: number } | { kind: 'categorical'; size: number };

/** A node's region: an interval per numeric feature, a set of allowed choices per categorical. */
type Box = Array<[number, number] | boolean[]>;

type Node = { leaf: true; value: number } | { leaf: false; feature: number; cut: number | boolean[]; left: Node; right: Node };

interface Leaf {
  value: number;
  box: Box;
}

function featureOf(spec: ParamSpec): Feature {
  if (spec.type === 'categorical') return { kind: 'categorical', size: spec.choices.length };
  return spec.log ? { kind: 'numeric', lo: Math.log(spec.low), hi: Math.log(spec.high) } : { kind: 'numeric', lo: spec.low, hi: spec.high };
}

function encode(spec: ParamSpec, v: unknown): number {
  if (spec.type === 'categorical') return spec.choices.indexOf(v as string | number | boolean);
  return spec.log ? Math.log(v as number) : (v as number);
}

interface Split {
  gain: number;
  feature: number;
  cut: number | boolean[];
}

/**
 * Best variance-reducing split of rows on one feature: a threshold, or a choice subset.
 * (Indices below are in range: rows index X and y, f is a column of X, best.at < groups.length - 1.)
 */
function bestSplit(X: number[][], y: number[], rows: number[], f: number, feature: Feature): Split | undefined {
  const byValue = new Map<number, { key: number; sum: number; n: number }>();
  for (const r of rows) {
    const x = X[r]![f]!;
    const g = byValue.get(x) ?? { key: x, sum: 0, n: 0 };
    g.sum += y[r]!;
    g.n++;
    byValue.set(x, g);
  }
  // Numeric values split in their order; choices in order of mean objective, which finds the best subset split.
  const groups = [...byValue.values()].sort(feature.kind === 'numeric' ? (a, b) => a.key - b.key : (a, b) => a.sum / a.n - b.sum / b.n);
  if (groups.length < 2) return undefined;
  const total = groups.reduce((s, g) => s + g.sum, 0);
  const n = rows.length;
  const best = { gain: -Infinity, at: 0 };
  let sum = 0;
  let count = 0;
  for (const [i, group] of groups.slice(0, -1).entries()) {
    sum += group.sum;
    count += group.n;
    const gain = (sum * sum) / count + ((total - sum) * (total - sum)) / (n - count) - (total * total) / n;
    if (gain > best.gain) Object.assign(best, { gain, at: i });
  }
  if (feature.kind === 'numeric') return { gain: best.gain, feature: f, cut: (groups[best.at]!.key + groups[best.at + 1]!.key) / 2 };
  const left = new Array<boolean>(feature.size).fill(false);
  for (const g of groups.slice(0, best.at + 1)) left[g.key] = true;
  return { gain: best.gain, feature: f, cut: left };
}

/** (rows index X and y; a split's feature is a column of X.) */
function grow(X: number[][], y: number[], rows: number[], features: Feature[], depth: number, maxDepth: number): Node {
  const mean = rows.reduce((s, r) => s + y[r]!, 0) / rows.length;
  const sse = rows.reduce((s, r) => s + (y[r]! - mean) ** 2, 0);
  if (depth >= maxDepth || rows.length < 2 || sse <= 0) return { leaf: true, value: mean };
  let best: Split | undefined;
  features.forEach((feature, f) => {
    const s = bestSplit(X, y, rows, f, feature);
    if (s && s.gain > 1e-9 * sse && (!best || s.gain > best.gain)) best = s;
  });
  if (!best) return { leaf: true, value: mean };
  const { feature, cut } = best;
  const goesLeft = typeof cut === 'number' ? (x: number) => x <= cut : (x: number) => cut[x];
  const left = rows.filter((r) => goesLeft(X[r]![feature]!));
  const right = rows.filter((r) => !goesLeft(X[r]![feature]!));
  return { leaf: false, feature, cut, left: grow(X, y, left, features, depth + 1, maxDepth), right: grow(X, y, right, features, depth + 1, maxDepth) };
}

function leaves(node: Node, box: Box, out: Leaf[]): Leaf[] {
  if (node.leaf) {
    out.push({ value: node.value, box });
    return out;
  }
  const f = node.feature;
  const left = [...box];
  const right = [...box];
  const region = box[f];
  if (typeof node.cut === 'number') {
    const [lo, hi] = region as [number, number];
    left[f] = [lo, Math.min(hi, node.cut)];
    right[f] = [Math.max(lo, node.cut), hi];
  } else {
    const allowed = region as boolean[];
    const cut = node.cut;
    left[f] = allowed.map((a, i) => a && cut[i] === true);
    right[f] = allowed.map((a, i) => a && !cut[i]);
  }
  leaves(node.left, left, out);
  return leaves(node.right, right, out);
}

/** Share of the box's feature f in the whole domain of f. */
function fraction(region: [number, number] | boolean[], feature: Feature): number {
  if (feature.kind === 'numeric') {
    const [lo, hi] = region as [number, number];
    return Math.max(0, hi - lo) / (feature.hi - feature.lo);
  }
  return (region as boolean[]).filter(Boolean).length / feature.size;
}

/**
 * Per feature, the tree's marginal variance over its total variance; undefined when the tree is constant.
 * (Indices below are in range: a box has one region per feature, fractions and volumes one entry per leaf.)
 */
function treeShares(tree: Node, features: Feature[]): number[] | undefined {
  const rootBox: Box = features.map((f) => (f.kind === 'numeric' ? [f.lo, f.hi] : new Array<boolean>(f.size).fill(true)));
  const ls = leaves(tree, rootBox, []);
  const fractions = ls.map((l) => l.box.map((region, f) => fraction(region, features[f]!)));
  const volumes = fractions.map((fr) => fr.reduce((a, b) => a * b, 1));
  const mean = ls.reduce((s, l, i) => s + volumes[i]! * l.value, 0);
  const total = ls.reduce((s, l, i) => s + volumes[i]! * (l.value - mean) ** 2, 0);
  if (!(total > 1e-300)) return undefined;
  return features.map((feature, f) => {
    // Cells of f: the intervals between its split points, or its single choices; the marginal is constant on each.
    const cells: Array<{ weight: number; inside: (region: [number, number] | boolean[]) => boolean }> = [];
    if (feature.kind === 'numeric') {
      const cuts = new Set<number>([feature.lo, feature.hi]);
      for (const l of ls) for (const x of l.box[f] as [number, number]) cuts.add(x);
      const points = [...cuts].sort((a, b) => a - b);
      for (let i = 0; i < points.length - 1; i++) {
        const [lo, hi] = [points[i]!, points[i + 1]!];
        const mid = (lo + hi) / 2;
        cells.push({ weight: (hi - lo) / (feature.hi - feature.lo), inside: (r) => (r as [number, number])[0] <= mid && mid <= (r as [number, number])[1] });
      }
    } else {
      for (let c = 0; c < feature.size; c++) cells.push({ weight: 1 / feature.size, inside: (r) => (r as boolean[])[c] === true });
    }
    const others = fractions.map((fr, i) => (fr[f]! > 0 ? volumes[i]! / fr[f]! : 0));
    let variance = 0;
    for (const cell of cells) {
      let marginal = 0;
      ls.forEach((l, i) => {
        if (cell.inside(l.box[f]!)) marginal += l.value * others[i]!;
      });
      variance += cell.weight * (marginal - mean) ** 2;
    }
    return variance / total;
  });
}

/**
 * Importance of each parameter, summing to 1, from complete trials whose params fit the space.
 * All zeros when fewer than 2 such trials exist or the objective never varies.
 */
export function fanova(space: SearchSpace, history: readonly TrialRecord[], options: ImportanceOptions = {}): Record<string, number> {
  const params = paramEntries(space);
  const names = params.map(([n]) => n);
  const { seed = 0, nTrees = 32, maxDepth = 8 } = options;
  const trials = history.filter((t) => isScored(t) && params.every(([n, spec]) => containsValue(spec, t.params[n])));
  const zeros = Object.fromEntries(names.map((n) => [n, 0]));
  if (trials.length < 2) return zeros;
  const features = params.map(([, spec]) => featureOf(spec));
  const X = trials.map((t) => params.map(([n, spec]) => encode(spec, t.params[n])));
  const y = trials.map((t) => t.value as number);
  const sums = new Array<number>(names.length).fill(0);
  let counted = 0;
  for (let k = 0; k < nTrees; k++) {
    const rng = rngFor(seed, 'fanova', k);
    const rows = Array.from({ length: trials.length }, () => rng.below(trials.length));
    const shares = treeShares(grow(X, y, rows, features, 0, maxDepth), features);
    if (!shares) continue;
    shares.forEach((s, f) => (sums[f] = (sums[f] ?? 0) + s));
    counted++;
  }
  const total = sums.reduce((a, b) => a + b, 0);
  if (counted === 0 || total <= 0) return zeros;
  return Object.fromEntries(names.map((n, f) => [n, (sums[f] ?? 0) / total]));
}
