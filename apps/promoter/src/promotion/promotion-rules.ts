import type { Costs, Decision, Metrics, PromotionPolicy } from '@trainyard/contracts';

/** What the rules look at in a model: its after-cost metrics and the conditions they were measured under. */
export interface Evaluated {
  metrics: Metrics;
  costs: Costs;
  evaluationWindow: { candles: number };
}

export interface PromotionInput {
  /** The policy the run asked for. */
  requested: PromotionPolicy;
  /** The run is a canary. */
  canary: boolean;
  /** PROMOTER_DRY_ONLY: this installation never applies a promotion. */
  dryOnly: boolean;
  candidate: Evaluated;
  production: Evaluated | null;
  /** Absolute floors a candidate must clear before it is compared with anything; unset ones do not apply. */
  floors?: PromotionFloors;
}

export interface PromotionFloors {
  minSharpe?: number;
  minHitRate?: number;
  maxDrawdown?: number;
}

/** Metrics are floats computed from counts; closer than this they are the same value. */
const EPSILON = 1e-9;

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** The policy a decision is made under: `auto` becomes `dry` on a canary run or a dry-only promoter, and the note says why. */
export function effectivePolicy(requested: PromotionPolicy, canary: boolean, dryOnly: boolean): { policy: PromotionPolicy; note?: string } {
  if (requested !== 'auto') return { policy: requested };
  if (canary) return { policy: 'dry', note: 'canary run: auto downgraded to dry' };
  if (dryOnly) return { policy: 'dry', note: 'PROMOTER_DRY_ONLY: auto downgraded to dry' };
  return { policy: 'auto' };
}

/** Each floor the metrics miss, in words; empty when they clear them all. */
export function floorMisses(m: Metrics, floors: PromotionFloors = {}): string[] {
  const misses: string[] = [];
  if (floors.minSharpe !== undefined && !(m.sharpe >= floors.minSharpe)) misses.push(`Sharpe ${m.sharpe.toFixed(2)} below the floor ${floors.minSharpe.toFixed(2)}`);
  if (floors.minHitRate !== undefined && !(m.directionalHitRate >= floors.minHitRate)) misses.push(`hit rate ${pct(m.directionalHitRate)} below the floor ${pct(floors.minHitRate)}`);
  if (floors.maxDrawdown !== undefined && !(m.maxDrawdown <= floors.maxDrawdown)) misses.push(`max drawdown ${pct(m.maxDrawdown)} above the ceiling ${pct(floors.maxDrawdown)}`);
  return misses;
}

/**
 * The promotion rules, in order: the policy is the run's, `auto` downgraded to `dry` on a canary run
 * or with PROMOTER_DRY_ONLY; policy off → skip; a metric past an absolute floor
 * (PROMOTER_MIN_SHARPE, PROMOTER_MIN_HIT_RATE, PROMOTER_MAX_DRAWDOWN) → reject, first model included;
 * no production model → promote; higher directional hit rate →
 * promote; lower → reject; equal hit rate and lower max drawdown → promote; otherwise reject.
 * Models measured on different windows or costs are not compared at all. `applied` is always
 * false here: applying is the caller's business, and only under `auto`.
 */
export function decidePromotion(input: PromotionInput): Decision {
  const { policy, note } = effectivePolicy(input.requested, input.canary, input.dryOnly);
  const decide = (outcome: Decision['outcome'], rule: string, reason: string): Decision => ({
    outcome,
    rule,
    mode: policy,
    applied: false,
    reason: note ? `${reason} (${note})` : reason,
  });

  if (policy === 'off') return decide('skipped', 'promotion_off', 'promotion is off for this run');
  const { candidate, production } = input;
  const misses = floorMisses(candidate.metrics, input.floors);
  if (misses.length) return decide('reject', 'below_floor', misses.join('; '));
  if (!production) return decide('promote', 'no_production', 'no production model yet');

  const cw = candidate.evaluationWindow.candles;
  const pw = production.evaluationWindow.candles;
  if (cw !== pw) return decide('not_comparable', 'evaluation_window_differs', `evaluated on ${cw} candles, production on ${pw}`);
  const cc = candidate.costs;
  const pc = production.costs;
  if (cc.feeBps !== pc.feeBps || cc.spreadBps !== pc.spreadBps) {
    return decide('not_comparable', 'costs_differ', `costs fee ${cc.feeBps} bps + spread ${cc.spreadBps} bps, production fee ${pc.feeBps} bps + spread ${pc.spreadBps} bps`);
  }

  const ch = candidate.metrics.directionalHitRate;
  const ph = production.metrics.directionalHitRate;
  if (ch - ph > EPSILON) return decide('promote', 'higher_hit_rate', `hit rate ${pct(ch)} > production ${pct(ph)}`);
  if (ph - ch > EPSILON) return decide('reject', 'lower_hit_rate', `hit rate ${pct(ch)} < production ${pct(ph)}`);
  const cd = candidate.metrics.maxDrawdown;
  const pd = production.metrics.maxDrawdown;
  if (pd - cd > EPSILON) {
    return decide('promote', 'equal_hit_rate_lower_drawdown', `hit rate equal at ${pct(ch)}, max drawdown ${pct(cd)} < production ${pct(pd)}`);
  }
  return decide('reject', 'not_better', `hit rate equal at ${pct(ch)}, max drawdown ${pct(cd)} not below production ${pct(pd)}`);
}
