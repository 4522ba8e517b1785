import { DEFAULT_VARIANT, modelKey, type RunStatus, type RunSummary, type Variant } from '@trainyard/contracts';
import type { JobOutcome } from '../repositories/run.repository';

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid];
  if (upper === undefined) return 0; // none
  const lower = sorted[mid - 1];
  return sorted.length % 2 || lower === undefined ? upper : (lower + upper) / 2;
}

function errorOf(j: JobOutcome): string | null {
  if (j.status === 'succeeded') return null;
  if (j.status === 'skipped') return j.errorMessage;
  return j.errorMessage ? `${j.errorType ?? 'unknown'}: ${j.errorMessage}` : j.errorType;
}

/**
 * The run's engine summary, from its jobs once every one is terminal. `cost` is the work (its leases);
 * `spend` what the GPU provider billed for the instances destroyed so far, in the run's share.
 */
export function summarize(jobs: JobOutcome[], skipped: { symbol: string; reason: string }[], startedAt: Date, finishedAt: Date, spend = 0): RunSummary {
  const by_symbol: RunSummary['by_symbol'] = {};
  const minutes: number[] = [];
  let cost = 0;
  // Entries are keyed as the registry keys models (SYMBOL, SYMBOL/variant); a study's run trains one
  // symbol many times, so its entries are keyed by job (trial) instead.
  const keyOf = (j: JobOutcome) => modelKey(j.symbol, j.variant ?? undefined);
  const perKey = new Map<string, number>();
  for (const j of jobs) perKey.set(keyOf(j), (perKey.get(keyOf(j)) ?? 0) + 1);
  const variantOf = new Map<string, Variant>();
  for (const j of jobs) {
    const trainMinutes = j.trainSeconds == null ? null : round(j.trainSeconds / 60, 4);
    if (j.status === 'succeeded' && trainMinutes != null) minutes.push(trainMinutes);
    cost += j.cost;
    const key = perKey.get(keyOf(j))! > 1 ? j.id : keyOf(j);
    variantOf.set(key, j.variant ?? DEFAULT_VARIANT);
    by_symbol[key] = {
      status: j.status === 'succeeded' ? 'succeeded' : j.status === 'cancelled' ? 'cancelled' : j.status === 'skipped' ? 'skipped' : 'failed',
      attempts: j.status === 'skipped' ? 0 : j.attempt,
      trainMinutes,
      metrics: j.metrics,
      error: errorOf(j),
    };
  }
  for (const s of skipped) by_symbol[s.symbol] = { status: 'skipped', attempts: 0, trainMinutes: null, metrics: null, error: s.reason };
  minutes.sort((a, b) => a - b);
  const count = (status: string) => Object.values(by_symbol).filter((o) => o.status === status).length;
  return {
    total_symbols: Object.keys(by_symbol).length,
    succeeded: count('succeeded'),
    failed: count('failed'),
    skipped: count('skipped'),
    cancelled: count('cancelled'),
    avg_train_minutes: minutes.length ? round(minutes.reduce((a, b) => a + b, 0) / minutes.length, 4) : 0,
    median_train_minutes: round(median(minutes), 4),
    total_wall_minutes: round(Math.max(0, finishedAt.getTime() - startedAt.getTime()) / 60_000, 4),
    cost: round(cost, 6),
    spend: round(spend, 6),
    by_symbol,
    ...(jobs.some((j) => j.variant) ? { by_variant: byVariant(by_symbol, variantOf) } : {}),
  };
}

/** The outcomes counted per variant; a refused symbol never had a job, so it counts under none. */
function byVariant(outcomes: RunSummary['by_symbol'], variantOf: Map<string, Variant>): NonNullable<RunSummary['by_variant']> {
  const groups: NonNullable<RunSummary['by_variant']> = {};
  for (const [key, o] of Object.entries(outcomes)) {
    const variant = variantOf.get(key);
    if (!variant) continue;
    const g = (groups[variant] ??= { total: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 });
    g.total++;
    g[o.status]++;
  }
  return groups;
}

export function runStatusOf(summary: RunSummary): RunStatus {
  if (summary.failed === 0 && summary.cancelled === 0) return 'succeeded';
  if (summary.succeeded === 0 && summary.failed === 0) return 'cancelled';
  return summary.succeeded > 0 ? 'partial' : 'failed';
}
