import type { QueryResponseInput } from '@trainyard/contracts';
import { jsonBytes, leadingThatFit } from './fit-message';

type RunModels = QueryResponseInput<'models.of_run'>;
type RunVersionView = RunModels['versions'][number];

/** Which versions a cut answer keeps first: promoted, refused, promoted in a dry run, otherwise decided, undecided. */
function keepRank(v: RunVersionView): number {
  const d = v.decision;
  if (!d) return 4;
  if (d.outcome === 'promote') return d.applied ? 0 : 2;
  return d.outcome === 'reject' ? 1 : 3;
}

/**
 * The models.of_run answer within `limit` bytes of JSON: every version when they fit; otherwise those
 * that fit, taken in keepRank order and listed in the order given, with how many were left out. The
 * counts are of all of them, so a reader waits for and reports the whole run.
 */
export function runModelsAnswer(versions: RunVersionView[], limit: number): RunModels {
  const counted = (pick: (v: RunVersionView) => boolean) => versions.filter(pick).length;
  const whole: RunModels = {
    versions,
    total: versions.length,
    decided: counted((v) => v.decision !== null),
    outcomes: {
      promoted: counted((v) => v.decision?.outcome === 'promote' && v.decision.applied),
      wouldPromote: counted((v) => v.decision?.outcome === 'promote' && !v.decision.applied),
      rejected: counted((v) => v.decision?.outcome === 'reject'),
      notComparable: counted((v) => v.decision?.outcome === 'not_comparable'),
      skipped: counted((v) => v.decision?.outcome === 'skipped'),
    },
    omitted: 0,
  };
  if (jsonBytes(whole) <= limit) return whole;
  // Counted with the largest omission, so the figure that ends up smaller still fits.
  const room = limit - jsonBytes({ ...whole, versions: [], omitted: versions.length });
  if (room < 0) throw new Error(`the versions of a run cannot be counted in ${limit} bytes`);
  const ranked = versions.map((v, at) => ({ v, at })).sort((a, b) => keepRank(a.v) - keepRank(b.v) || a.at - b.at);
  const kept = ranked
    .slice(
      0,
      leadingThatFit(
        ranked.map((r) => r.v),
        room,
      ).count,
    )
    .sort((a, b) => a.at - b.at);
  return { ...whole, versions: kept.map((r) => r.v), omitted: versions.length - kept.length };
}
