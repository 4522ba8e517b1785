import type { Costs, Decision, Metrics, PromoteMode } from '@trainyard/contracts';
import type { PromoterConfig } from '../config/promoter.config';

/** What the rules look at in a model: its after-cost metrics and the conditions they were measured under. */
export interface Evaluated {
  metrics: Metrics;
  costs: Costs;
  evaluationWindow: { candles: number };
}

export interface PromotionInput {
  /** The mode the run asked for. */
  requested: PromoteMode;
  /** The run is a canary or live test. */
  canary: boolean;
  runMode: PromoterConfig['RUN_MODE'];
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

/** `auto` becomes `dry` on a canary or live-test run, and the reason says why. */
export function effectiveMode(requested: PromoteMode, canary: boolean, runMode: PromotionInput['runMode']): { mode: PromoteMode; note?: string } {
  if (requested !== 'auto') return { mode: requested };
  if (canary) return { mode: 'dry', note: 'canary run: auto downgraded to dry' };
  if (runMode !== 'normal') return { mode: 'dry', note: `RUN_MODE=${runMode}: auto downgraded to dry` };
  return { mode: 'auto' };
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
 * The promotion rules, in order: promotion off → skip; a metric past an absolute floor
 * (PROMOTER_MIN_SHARPE, PROMOTER_MIN_HIT_RATE, PROMOTER_MAX_DRAWDOWN) → reject, first model included;
 * no production model → promote; higher directional hit rate →
 * promote; lower → reject; equal hit rate and lower max drawdown → promote; otherwise reject.
 * Models measured on different windows or costs are not compared at all. `applied` is always
 * false here: applying is the caller's business.
 */
export function decidePromotion(input: PromotionInput): Decision {
  const { mode, note } = effectiveMode(input.requested, input.canary, input.runMode);
  const decide = (outcome: Decision['outcome'], rule: string, reason: string): Decision => ({
    outcome,
    rule,
    mode,
    applied: false,
    reason: note ? `${reason} (${note})` : reason,
  });

  if (mode === 'off') return decide('skipped', 'promotion_off', 'promotion is off for this run');
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
