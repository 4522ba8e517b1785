import type { ModelStage } from '../registry/model-version.entity';

export interface RetentionCandidate {
  id: number;
  version: number;
  stage: ModelStage;
  sharpe: number;
  /** Has its automatic decision; until then its artifacts may still be promoted. */
  decided: boolean;
  pruned: boolean;
}

export interface RetentionPolicy {
  keepTop: number;
  /** The version that was in production before the current one: the first rollback target. */
  previousProductionId: number | null;
}

/**
 * Which of one symbol's versions lose their artifacts: all but the top `keepTop` by Sharpe (among
 * those that still have artifacts; ties keep the newer), the production version, the previous
 * production version, and versions not decided yet.
 */
export function selectPrunable<V extends RetentionCandidate>(versions: V[], policy: RetentionPolicy): V[] {
  const withArtifacts = versions.filter((v) => !v.pruned);
  const bySharpe = [...withArtifacts].sort((a, b) => rank(b.sharpe) - rank(a.sharpe) || b.version - a.version);
  const top = new Set(bySharpe.slice(0, policy.keepTop).map((v) => v.id));
  return withArtifacts.filter((v) => !top.has(v.id) && v.stage !== 'production' && v.id !== policy.previousProductionId && v.decided);
}

/** A Sharpe ratio that could not be computed ranks last. */
const rank = (sharpe: number) => (Number.isFinite(sharpe) ? sharpe : -Infinity);
