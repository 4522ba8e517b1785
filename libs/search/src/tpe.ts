/**
 * Tree-structured Parzen Estimator, ported from Optuna's TPESampler (optuna/samplers/_tpe) in its
 * univariate form: each parameter is modelled and chosen independently. No maintained TPE exists
 * on npm, hence this port.
 *
 * Same as Optuna: n_startup_trials random trials first; split into "below" (the best
 * gamma(n) = min(ceil(0.1·n), 25)) and "above"; Parzen mixtures with a prior kernel (weight 1) at
 * the centre of the range with sigma = range, Optuna's bandwidths (max gap to neighbours,
 * consider_endpoints=false, magic clip), default_weights (old trials ramped down past 25);
 * log parameters modelled in log space; int and stepped floats as discretised truncated normals;
 * categoricals with the categorical Parzen estimator; n_ei_candidates=24 draws from the "below"
 * mixture, keeping the one with the largest log l(x) - log g(x).
 *
 * Pruned trials count like Optuna's: they fill "below" only when fewer complete trials than
 * gamma(n) exist, ranked by deepest step reached, then by their last intermediate value.
 * Failed and running trials are ignored, as Optuna does by default (its constant_liar option is off).
 */
import { z } from 'zod';
import { sampleRandom, rngFor, type Rng } from './random';
import { containsValue, paramEntries, snapToLattice, stepOf, type CategoricalParam, type FloatParam, type IntParam, type ParamSpec, type ParamValue, type Params, type SearchSpace } from './space';
import { better, byNumber, curve, isScored, type Direction, type TrialRecord } from './trial';
import { logGaussMass, normLogPdf, truncnormPpf } from './truncnorm';

export const TpeOptions = z.strictObject({
  nStartupTrials: z.number().int().min(0).default(10),
  nEiCandidates: z.number().int().min(1).max(10_000).default(24),
  priorWeight: z.number().positive().default(1),
  considerMagicClip: z.boolean().default(true),
  considerEndpoints: z.boolean().default(false),
});
export type TpeOptions = z.input<typeof TpeOptions>;
type Resolved = z.output<typeof TpeOptions>;

const EPS = 1e-12;

export function gamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** Optuna's default_weights: flat for the newest 25 observations, a linear ramp from 1/n before them. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const m = n - 25;
  const ramp = Array.from({ length: m }, (_, i) => (m === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (m - 1)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/** Optuna's _get_pruned_trial_score: deeper first, then better last value; no reports rank last. */
function prunedScore(t: TrialRecord, direction: Direction): [number, number] {
  const c = curve(t);
  const last = c[c.length - 1];
  if (last === undefined) return [1, 0];
  const [step, v] = last;
  if (Number.isNaN(v)) return [-step, Infinity];
  return [-step, direction === 'minimize' ? v : -v];
}

/** Optuna's _split_trials for one objective, without constraints. */
export function splitTrials(history: readonly TrialRecord[], direction: Direction): { below: TrialRecord[]; above: TrialRecord[] } {
  const trials = byNumber(history);
  const complete = trials.filter(isScored);
  const pruned = trials.filter((t) => t.state === 'pruned');
  let nBelow = gamma(complete.length + pruned.length);
  const sortedComplete = [...complete].sort((a, b) => (better(a.value, b.value, direction) ? -1 : better(b.value, a.value, direction) ? 1 : 0));
  const scores = new Map(pruned.map((t) => [t, prunedScore(t, direction)]));
  const sortedPruned = [...pruned].sort((a, b) => {
    const [sa, sb] = [scores.get(a)!, scores.get(b)!];
    return sa[0] - sb[0] || (sa[1] < sb[1] ? -1 : sa[1] > sb[1] ? 1 : 0);
  });
  const belowComplete = sortedComplete.slice(0, nBelow);
  nBelow = Math.max(0, nBelow - belowComplete.length);
  const below = [...belowComplete, ...sortedPruned.slice(0, nBelow)];
  const above = [...sortedComplete.slice(belowComplete.length), ...sortedPruned.slice(nBelow)];
  return { below: byNumber(below), above: byNumber(above) };
}

interface Estimator {
  sample(rng: Rng): ParamValue;
  logPdf(x: ParamValue): number;
}

function logSumExp(xs: Float64Array): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - max);
  return max + Math.log(s);
}

/** Picks a kernel index by cumulative weight (k stays below weights.length). */
function pickKernel(weights: Float64Array, u: number): number {
  let acc = 0;
  for (let k = 0; k < weights.length - 1; k++) {
    acc += weights[k]!;
    if (u < acc) return k;
  }
  return weights.length - 1;
}

/** Mixture weights: the observations' weights plus the prior's, normalised (Optuna's _ParzenEstimator). */
function mixtureWeights(n: number, opts: Resolved): Float64Array {
  const w = n === 0 ? [1] : [...defaultWeights(n), opts.priorWeight];
  const sum = w.reduce((a, b) => a + b, 0);
  return Float64Array.from(w, (x) => x / sum);
}

/**
 * Optuna's _calculate_numerical_distributions: truncated (discretised when stepped) normals.
 * (Indices below are in range: order is a permutation of 0..n-1, sorted has n + 2 entries, the
 * Float64Arrays have n + 1, and kernels k run 0..n.)
 */
function numericEstimator(spec: FloatParam | IntParam, observed: number[], opts: Resolved): Estimator {
  const step = stepOf(spec);
  const log = spec.log === true;
  const t = (x: number) => (log ? Math.log(x) : x);
  const half = step === undefined ? 0 : step / 2;
  const low = t(spec.low - half);
  const high = t(spec.high + half);
  const mus = observed.map(t);
  const n = mus.length;

  const order = mus.map((_, i) => i).sort((i, j) => mus[i]! - mus[j]!);
  const sorted = [low, ...order.map((i) => mus[i]!), high];
  const sortedSigmas = order.map((_, r) => Math.max(sorted[r + 1]! - sorted[r]!, sorted[r + 2]! - sorted[r + 1]!));
  if (!opts.considerEndpoints && sorted.length >= 4) {
    sortedSigmas[0] = sorted[2]! - sorted[1]!;
    sortedSigmas[n - 1] = sorted[n]! - sorted[n - 1]!;
  }
  const minSigma = opts.considerMagicClip ? (high - low) / Math.min(100, n + 2) : EPS;
  const sigmas = new Float64Array(n + 1);
  order.forEach((i, r) => (sigmas[i] = Math.min(Math.max(sortedSigmas[r]!, minSigma), high - low)));
  sigmas[n] = high - low;
  const centres = Float64Array.from([...mus, 0.5 * (low + high)]);
  const weights = mixtureWeights(n, opts);
  const logW = weights.map(Math.log);
  const logNorm = centres.map((mu, k) => logGaussMass((low - mu) / sigmas[k]!, (high - mu) / sigmas[k]!));
  const logSigma = sigmas.map(Math.log);
  const terms = new Float64Array(n + 1);

  return {
    sample(rng) {
      const k = pickKernel(weights, rng.next());
      const mu = centres[k]!;
      const s = sigmas[k]!;
      const z = truncnormPpf(rng.next(), (low - mu) / s, (high - mu) / s);
      const x = log ? Math.exp(mu + s * z) : mu + s * z;
      if (step !== undefined) return snapToLattice(spec, step, x);
      return Math.min(Math.max(x, spec.low), spec.high);
    },
    logPdf(value) {
      const x = value as number;
      if (step === undefined) {
        const tx = t(x);
        for (let k = 0; k <= n; k++) terms[k] = logW[k]! + normLogPdf((tx - centres[k]!) / sigmas[k]!) - logSigma[k]! - logNorm[k]!;
      } else {
        const left = t(x - half);
        const right = t(x + half);
        for (let k = 0; k <= n; k++) terms[k] = logW[k]! + logGaussMass((left - centres[k]!) / sigmas[k]!, (right - centres[k]!) / sigmas[k]!) - logNorm[k]!;
      }
      return logSumExp(terms);
    },
  };
}

/**
 * Optuna's _calculate_categorical_distributions: each observation is a kernel putting
 * priorWeight/nKernels on every choice plus 1 on its own. The mixture of these is itself one
 * categorical distribution, so it is sampled and scored directly.
 */
function categoricalEstimator(spec: CategoricalParam, observed: ParamValue[], opts: Resolved): Estimator {
  // Indices below are in range: weights has n + 1 entries, probs one per choice, and every observed
  // or scored value is one of the choices (observed values are checked by containsValue).
  const m = spec.choices.length;
  const n = observed.length;
  const weights = mixtureWeights(n, opts);
  const probs = new Float64Array(m).fill(weights[n]! / m);
  if (n > 0) {
    const base = opts.priorWeight / (n + 1);
    const rowSum = base * m + 1;
    observed.forEach((v, i) => {
      for (let c = 0; c < m; c++) probs[c]! += (weights[i]! * base) / rowSum;
      probs[spec.choices.indexOf(v)]! += weights[i]! / rowSum;
    });
  }
  return {
    sample(rng) {
      return spec.choices[pickKernel(probs, rng.next())]!;
    },
    logPdf(value) {
      return Math.log(probs[spec.choices.indexOf(value)]!);
    },
  };
}

function estimator(name: string, spec: ParamSpec, trials: TrialRecord[], opts: Resolved): Estimator {
  const observed = trials.map((t) => t.params[name]).filter((v): v is ParamValue => v !== undefined && containsValue(spec, v));
  return spec.type === 'categorical' ? categoricalEstimator(spec, observed, opts) : numericEstimator(spec, observed as number[], opts);
}

export interface TpeInput {
  space: SearchSpace;
  seed: number;
  direction: Direction;
  trialNumber: number;
  history: readonly TrialRecord[];
  options?: TpeOptions;
}

export function suggestTpe({ space, seed, direction, trialNumber, history, options }: TpeInput): Params {
  const opts = TpeOptions.parse(options ?? {});
  const finished = history.filter((t) => isScored(t) || t.state === 'pruned');
  if (finished.length < opts.nStartupTrials) return sampleRandom(space, seed, trialNumber);
  const { below, above } = splitTrials(finished, direction);
  const out: Params = {};
  for (const [name, spec] of paramEntries(space)) {
    const l = estimator(name, spec, below, opts);
    const g = estimator(name, spec, above, opts);
    const rng = rngFor(seed, trialNumber, 'tpe', name);
    let best: ParamValue = l.sample(rng);
    let bestScore = l.logPdf(best) - g.logPdf(best);
    for (let i = 1; i < opts.nEiCandidates; i++) {
      const x = l.sample(rng);
      const score = l.logPdf(x) - g.logPdf(x);
      if (score > bestScore) [best, bestScore] = [x, score];
    }
    out[name] = best;
  }
  return out;
}
