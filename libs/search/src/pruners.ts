/**
 * Pruners with Optuna's semantics, made stateless: every decision is recomputed from the trial's
 * own curve and the other trials' rows. Ask after every intermediate report, as Optuna's
 * `trial.should_prune()` is; successive halving reads each rival's rung value from its curve (the
 * first report at or after the rung's step), which is what Optuna records when asked that way.
 * Failed trials never take part.
 */
import { z } from 'zod';
import { fmix32 } from './random';
import { curve, type Direction, type Intermediate, type TrialRecord } from './trial';

const MedianPruner = z.strictObject({
  type: z.literal('median'),
  /** No pruning until this many trials have completed. */
  nStartupTrials: z.number().int().min(0).default(5),
  /** No pruning before this step. */
  nWarmupSteps: z.number().int().min(0).default(0),
  /** Check once per this many steps, counted from nWarmupSteps. */
  intervalSteps: z.number().int().min(1).default(1),
  /** No pruning at a step fewer completed trials reported. */
  nMinTrials: z.number().int().min(1).default(1),
});

const SuccessiveHalvingPruner = z.strictObject({
  type: z.literal('successiveHalving'),
  /** Step of the first rung; rung k sits at minResource · reductionFactor^(minEarlyStoppingRate + k). */
  minResource: z.number().int().min(1).default(1),
  reductionFactor: z.number().int().min(2).default(3),
  minEarlyStoppingRate: z.number().int().min(0).default(0),
  /** A trial is pruned at a rung until more than this many trials (itself included) reached it. */
  bootstrapCount: z.number().int().min(0).default(0),
});

const HyperbandPruner = z
  .strictObject({
    type: z.literal('hyperband'),
    minResource: z.number().int().min(1).default(1),
    /** The step a full-length trial reaches (Optuna's 'auto' needs state, so it must be given). */
    maxResource: z.number().int().min(1),
    reductionFactor: z.number().int().min(2).default(3),
    bootstrapCount: z.number().int().min(0).default(0),
  })
  .refine((p) => p.maxResource >= p.minResource, { path: ['maxResource'], message: 'maxResource must be >= minResource' });

export const PrunerConfig = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('none') }), MedianPruner, SuccessiveHalvingPruner, HyperbandPruner]);
export type PrunerConfig = z.input<typeof PrunerConfig>;

export interface PruneDecision {
  prune: boolean;
  reason: string;
}

/** The trial being judged: its number and the values it reported so far. */
export type PruneSubject = Pick<TrialRecord, 'number' | 'intermediate'>;

const keep = (reason: string): PruneDecision => ({ prune: false, reason });
const cut = (reason: string): PruneDecision => ({ prune: true, reason });

/** numpy's linear-interpolation percentile over non-NaN values; NaN when none. */
function percentile(values: number[], p: number): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = (p / 100) * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, v.length - 1);
  // 0 <= lo <= hi <= v.length - 1 and v is not empty
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

/** Optuna's MedianPruner (PercentilePruner at 50): the trial's best value so far against the median of completed trials at its latest step. */
function median(cfg: z.output<typeof MedianPruner>, own: Intermediate[], others: readonly TrialRecord[], direction: Direction): PruneDecision {
  const completed = others.filter((t) => t.state === 'complete');
  if (completed.length === 0 || completed.length < cfg.nStartupTrials) return keep(`startup: ${completed.length} of ${cfg.nStartupTrials} trials completed`);
  const [step] = own[own.length - 1] ?? [];
  if (step === undefined) return keep('no intermediate values yet');
  if (step < cfg.nWarmupSteps) return keep(`warm-up: step ${step} < ${cfg.nWarmupSteps}`);
  const checkpoint = Math.floor((step - cfg.nWarmupSteps) / cfg.intervalSteps) * cfg.intervalSteps + cfg.nWarmupSteps;
  const [previous] = own[own.length - 2] ?? [-1];
  if (previous >= checkpoint) return keep(`step ${step} is not a check step (every ${cfg.intervalSteps} from ${cfg.nWarmupSteps})`);
  const values = own.map(([, v]) => v).filter((v) => !Number.isNaN(v));
  if (values.length === 0) return cut(`every intermediate value up to step ${step} is NaN`);
  const best = direction === 'maximize' ? Math.max(...values) : Math.min(...values);
  const atStep = completed.flatMap((t) =>
    curve(t)
      .filter(([s]) => s === step)
      .map(([, v]) => v),
  );
  if (atStep.length < cfg.nMinTrials) return keep(`only ${atStep.length} completed trials reported step ${step} (need ${cfg.nMinTrials})`);
  const m = percentile(atStep, 50);
  if (Number.isNaN(m)) return keep(`completed trials have only NaN at step ${step}`);
  const worse = direction === 'maximize' ? best < m : best > m;
  const summary = `best ${best} by step ${step} vs median ${m} of ${atStep.length} completed trials at step ${step}`;
  return worse ? cut(`${summary}: worse`) : keep(`${summary}: not worse`);
}

/** A trial's value at a rung: its first report at or after the rung's step. */
function rungValue(c: Intermediate[], rungStep: number): number | undefined {
  return c.find(([s]) => s >= rungStep)?.[1];
}

/**
 * Optuna's SuccessiveHalvingPruner (asynchronous SH): at each rung a trial reaches, it continues
 * only if its value is in the top 1/reductionFactor of all values recorded at that rung (the first
 * reductionFactor - 1 arrivals need to be the best so far). Rungs reached at earlier reports were
 * already judged and are not revisited.
 */
function successiveHalving(cfg: z.output<typeof SuccessiveHalvingPruner>, own: Intermediate[], others: readonly TrialRecord[], direction: Direction): PruneDecision {
  const latest = own[own.length - 1];
  if (latest === undefined) return keep('no intermediate values yet');
  const [step, value] = latest;
  const [previous] = own[own.length - 2] ?? [-1];
  const eta = cfg.reductionFactor;
  const rungStep = (k: number) => cfg.minResource * eta ** (cfg.minEarlyStoppingRate + k);
  let k = 0;
  while (rungStep(k) <= previous) k++;
  if (rungStep(k) > step) return keep(`step ${step} is below rung ${k} (step ${rungStep(k)})`);
  const rivals = others.filter((t) => t.state !== 'failed').map(curve);
  for (; rungStep(k) <= step; k++) {
    if (Number.isNaN(value)) return cut(`NaN at rung ${k} (step ${rungStep(k)})`);
    const competing = [value];
    for (const c of rivals) {
      const v = rungValue(c, rungStep(k));
      if (v !== undefined && !Number.isNaN(v)) competing.push(v);
    }
    if (competing.length <= cfg.bootstrapCount) return cut(`rung ${k}: ${competing.length} trials reached it, bootstrap needs more than ${cfg.bootstrapCount}`);
    competing.sort((a, b) => a - b);
    const idx = Math.max(Math.floor(competing.length / eta) - 1, 0);
    // competing holds value, and idx <= competing.length / eta - 1 < competing.length (eta >= 2)
    const bar = direction === 'maximize' ? competing[competing.length - 1 - idx]! : competing[idx]!;
    const promoted = direction === 'maximize' ? value >= bar : value <= bar;
    if (!promoted) return cut(`rung ${k} (step ${rungStep(k)}): ${value} is not in the top ${idx + 1} of ${competing.length} (needs ${bar})`);
  }
  return keep(`promoted past rung ${k - 1} (step ${rungStep(k - 1)})`);
}

/** Hyperband's brackets: count and each one's share of trials, as in Optuna's HyperbandPruner. */
export function hyperbandBrackets(cfg: Omit<z.output<typeof HyperbandPruner>, 'type' | 'bootstrapCount'>): number[] {
  let n = 0;
  while (cfg.minResource * cfg.reductionFactor ** n <= cfg.maxResource) n++;
  return Array.from({ length: n }, (_, b) => {
    const s = n - 1 - b;
    return Math.ceil((n * cfg.reductionFactor ** s) / (s + 1));
  });
}

function bracketOf(budgets: number[], trialNumber: number): number {
  let r = fmix32(trialNumber >>> 0) % budgets.reduce((a, b) => a + b, 0);
  for (const [b, budget] of budgets.entries()) {
    r -= budget;
    if (r < 0) return b;
  }
  return budgets.length - 1;
}

/** The bracket of a trial: a hash of its number over the brackets' shares (Optuna hashes study name and number). */
export function hyperbandBracket(config: Extract<PrunerConfig, { type: 'hyperband' }>, trialNumber: number): number {
  return bracketOf(hyperbandBrackets(HyperbandPruner.parse(config)), trialNumber);
}

/** Whether `trial` should stop now, given every other trial of the study (the trial itself is skipped if present). */
export function prune(config: PrunerConfig, trial: PruneSubject, history: readonly TrialRecord[], direction: Direction): PruneDecision {
  const cfg = PrunerConfig.parse(config);
  const own = curve(trial);
  const others = history.filter((t) => t.number !== trial.number);
  switch (cfg.type) {
    case 'none':
      return keep('pruning disabled');
    case 'median':
      return median(cfg, own, others, direction);
    case 'successiveHalving':
      return successiveHalving(cfg, own, others, direction);
    case 'hyperband': {
      const budgets = hyperbandBrackets(cfg);
      const bracket = bracketOf(budgets, trial.number);
      const peers = others.filter((t) => bracketOf(budgets, t.number) === bracket);
      const sh = { type: 'successiveHalving' as const, minResource: cfg.minResource, reductionFactor: cfg.reductionFactor, minEarlyStoppingRate: bracket, bootstrapCount: cfg.bootstrapCount };
      const d = successiveHalving(sh, own, peers, direction);
      return { prune: d.prune, reason: `bracket ${bracket}: ${d.reason}` };
    }
  }
}
