import type { RunStatus, RunSummary } from '@trainyard/contracts';
import type { JobEntity } from './job.entity';

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

function median(sorted: number[]): number {
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function errorOf(j: JobEntity): string | null {
  if (j.status === 'succeeded') return null;
  if (j.status === 'skipped') return j.errorMessage;
  return j.errorMessage ? `${j.errorType ?? 'unknown'}: ${j.errorMessage}` : j.errorType;
}

/**
 * The run's engine summary, from its jobs once every one is terminal. `cost` is the work (its leases);
 * `spend` what the GPU provider billed for the instances destroyed so far, in the run's share.
 */
export function summarize(jobs: JobEntity[], skipped: { symbol: string; reason: string }[], startedAt: Date, finishedAt: Date, spend = 0): RunSummary {
  const by_symbol: RunSummary['by_symbol'] = {};
  const minutes: number[] = [];
  let cost = 0;
  // A study's run trains one symbol many times: its entries are keyed by job (trial) instead.
  const perSymbol = new Map<string, number>();
  for (const j of jobs) perSymbol.set(j.symbol, (perSymbol.get(j.symbol) ?? 0) + 1);
  for (const j of jobs) {
    const trainMinutes = j.trainSeconds == null ? null : round(j.trainSeconds / 60, 4);
    if (j.status === 'succeeded' && trainMinutes != null) minutes.push(trainMinutes);
    cost += j.cost;
    by_symbol[perSymbol.get(j.symbol)! > 1 ? j.id : j.symbol] = {
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
  };
}

export function runStatusOf(summary: RunSummary): RunStatus {
  if (summary.failed === 0 && summary.cancelled === 0) return 'succeeded';
  if (summary.succeeded === 0 && summary.failed === 0) return 'cancelled';
  return summary.succeeded > 0 ? 'partial' : 'failed';
}
