import type { EventMessage, EventName } from '@trainyard/contracts';
import type { RunModels, RunVersion } from '@trainyard/messaging';

const fixed = (n: number | null | undefined, d = 3) => (n == null ? '-' : n.toFixed(d));

/** One line per event worth a person's attention while a run is followed. */
const LINES: { [N in EventName]?: (d: EventMessage<N>) => string } = {
  'run.planned': (d) => {
    const skipped = d.skipped.length + (d.skippedOmitted ?? 0);
    return `planned ${d.runId} for ${d.date}: ${d.jobs.length + (d.jobsOmitted ?? 0)} jobs${skipped ? `, ${skipped} skipped` : ''}, forecast ${fixed(d.forecast.wallMinutes, 1)} min`;
  },
  'run.started': (d) => `started ${d.runId}: ${d.totalJobs} jobs, ${d.mode} x${d.maxConcurrent}`,
  'job.started': (d) => `  ▶ ${d.symbol} attempt ${d.attempt} on ${d.agentId}`,
  'job.succeeded': (d) => `  ✓ ${d.symbol} hit rate ${fixed(d.metrics.directionalHitRate)} sharpe ${fixed(d.metrics.sharpe, 2)} in ${fixed(d.trainSeconds, 1)} s`,
  'job.failed': (d) => `  ✗ ${d.symbol} attempt ${d.attempt} failed (${d.errorType}${d.retryable ? ', retryable' : ''}): ${d.message}`,
  'job.retrying': (d) => `  ↻ ${d.symbol} retry ${d.nextAttempt} in ${fixed(d.delaySeconds, 0)} s`,
  'job.cancelled': (d) => `  ■ ${d.symbol} cancelled: ${d.reason}`,
};

export function describeEvent(subject: string, d: unknown): string | null {
  const line = LINES[subject as EventName] as ((d: unknown) => string) | undefined;
  return line ? line(d) : null;
}

export function formatSummary(m: EventMessage<'run.completed'>): string {
  const s = m.summary;
  const lines = [
    `run ${m.runId} (${m.date}) ${m.status.toUpperCase()}`,
    `  symbols ${s.total_symbols}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} skipped, ${s.cancelled} cancelled`,
    `  train minutes: avg ${fixed(s.avg_train_minutes)}, median ${fixed(s.median_train_minutes)}; wall ${fixed(s.total_wall_minutes, 2)} min; cost $${s.cost.toFixed(2)}`,
    `  summary: ${m.summaryUri ?? '-'}`,
    '',
    `  ${'symbol'.padEnd(12)} ${'status'.padEnd(10)} ${'tries'.padStart(5)} ${'minutes'.padStart(8)} ${'hit rate'.padStart(8)} ${'sharpe'.padStart(7)} ${'max dd'.padStart(7)}  error`,
  ];
  for (const [symbol, o] of Object.entries(s.by_symbol)) {
    lines.push(
      `  ${symbol.padEnd(12)} ${o.status.padEnd(10)} ${String(o.attempts).padStart(5)} ${fixed(o.trainMinutes, 3).padStart(8)} ${fixed(o.metrics?.directionalHitRate).padStart(8)} ${fixed(o.metrics?.sharpe, 2).padStart(7)} ${fixed(o.metrics?.maxDrawdown).padStart(7)}  ${o.error ?? ''}`,
    );
  }
  if (s.by_symbol_omitted) lines.push(`  … and ${s.by_symbol_omitted} more, in the summary above`);
  return lines.join('\n');
}

export function formatPlan(m: EventMessage<'run.planned'>): string {
  const lines = [`dry run ${m.runId} (${m.date}): ${m.jobs.length + (m.jobsOmitted ?? 0)} jobs, nothing launched`, '  order:'];
  // The training hash is what the resume ledger keys on: the same inputs plan the same hash in any run.
  m.jobs.forEach((j, i) => lines.push(`  ${String(i + 1).padStart(4)}. ${j.symbol.padEnd(12)} ${j.priority.padEnd(7)} training ${(j.trainingHash ?? '-').slice(0, 16)}  ${j.jobId}`));
  if (m.jobsOmitted) lines.push(`     … and ${m.jobsOmitted} more, in ${m.planUri ?? 'the stored plan'}`);
  for (const s of m.skipped) lines.push(`  skipped ${s.symbol}: ${s.reason}`);
  if (m.skippedOmitted) lines.push(`  … and ${m.skippedOmitted} more skipped, in ${m.planUri ?? 'the stored plan'}`);
  lines.push(`  forecast: ${m.forecast.gpuHours.toFixed(2)} GPU hours, $${m.forecast.cost.toFixed(2)}, ${m.forecast.wallMinutes.toFixed(1)} min wall`);
  return lines.join('\n');
}

function verdict(d: NonNullable<RunVersion['decision']>): string {
  if (d.outcome === 'promote') return d.applied ? 'promoted' : 'would promote';
  return d.outcome === 'reject' ? 'refused' : 'not compared';
}

/** A run none of whose jobs trained a model (all skipped, say) has nothing for the promoter to decide. */
const nothingTrained = (m: EventMessage<'run.completed'>) => m.summary.succeeded === 0;

/** The run record's promotion fields for --json: null when the promoter did not answer, none when nothing was trained. */
export function promotionFields(m: EventMessage<'run.completed'>, models: RunModels | null) {
  if (models) return { promotions: models.versions, promotionOutcomes: models.outcomes, promotionsOmitted: models.omitted };
  return { promotions: nothingTrained(m) ? [] : null };
}

/** Which of the run's models were promoted, refused and why; the succeeded ones nobody decided yet, named. */
export function formatPromotions(m: EventMessage<'run.completed'>, models: RunModels | null): string {
  const lines = ['', '  promotion:'];
  if (nothingTrained(m)) return [...lines, '    none: no job of this run trained a model'].join('\n');
  if (models === null) return [...lines, '    unknown: the promoter did not answer'].join('\n');
  const rows = [...models.versions].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.version - b.version);
  for (const v of rows) {
    const d = v.decision;
    lines.push(`    ${v.symbol.padEnd(12)} v${String(v.version).padEnd(4)} ${(d ? verdict(d) : 'undecided').padEnd(14)} ${d ? `${d.rule}: ${d.reason}` : 'no decision yet'}`);
  }
  const o = models.outcomes;
  if (models.omitted) {
    lines.push(`    … and ${models.omitted} more (in all: ${o.promoted} promoted, ${o.wouldPromote} would promote, ${o.rejected} refused, ${o.notComparable} not compared)`);
  }
  // The count, not by_symbol: a large run's message may carry only part of by_symbol.
  if (models.total < m.summary.succeeded) lines.push(`    ${m.summary.succeeded - models.total} succeeded job(s) not registered yet`);
  return lines.join('\n');
}
