import type { EventMessage, Metrics, RunStatus } from '@trainyard/contracts';
import { escapeHtml as esc } from './html';

/** Lists are cut here, so a run of hundreds of symbols still fits one phone screen (and Telegram's 4096 characters). */
const MAX_LISTED = 10;
const MAX_ERROR_CHARS = 200;

const STATUS_ICON: Record<RunStatus, string> = { succeeded: '✅', partial: '⚠️', failed: '❌', cancelled: '⛔' };

const minutes = (n: number) => `${n.toFixed(1)} min`;
const money = (n: number) => `$${n.toFixed(2)}`;
const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function listed(items: string[], separator: string): string {
  const shown = items.slice(0, MAX_LISTED).join(separator);
  return items.length > MAX_LISTED ? `${shown}${separator}… and ${items.length - MAX_LISTED} more` : shown;
}

export function formatRunStarted(m: EventMessage<'run.started'>): string {
  const lines = [
    `▶️ <b>Run ${esc(m.runId)} started</b> — ${m.totalJobs} symbol${m.totalJobs === 1 ? '' : 's'}`,
    `${esc(m.date)} · ${m.trigger} · ${m.mode}, up to ${m.maxConcurrent} at once`,
  ];
  if (m.symbols.length) lines.push(listed(m.symbols, ', '));
  return lines.join('\n');
}

/** The run's summary; jobs that failed after their last retry are listed with their error. */
export function formatRunCompleted(m: EventMessage<'run.completed'>): string {
  const s = m.summary;
  const lines = [
    `${STATUS_ICON[m.status]} <b>Run ${esc(m.runId)} ${m.status}</b> — ${s.succeeded}/${s.total_symbols} symbols, median ${minutes(s.median_train_minutes)}, cost ${money(s.cost)}`,
    `wall time ${minutes(s.total_wall_minutes)}`,
  ];
  const outcomes = Object.entries(s.by_symbol).sort(([a], [b]) => a.localeCompare(b));
  const failed = outcomes.filter(([, o]) => o.status === 'failed');
  if (failed.length) {
    lines.push(`<b>Failed (${failed.length})</b>`);
    const failures = failed.map(([symbol, o]) => {
      const attempts = `${o.attempts} attempt${o.attempts === 1 ? '' : 's'}`;
      return `❌ ${esc(symbol)} after ${attempts}: ${esc(clip(o.error ?? 'no error recorded', MAX_ERROR_CHARS))}`;
    });
    lines.push(listed(failures, '\n'));
  }
  for (const [status, icon] of [['cancelled', '⛔'], ['skipped', '⏭']] as const) {
    const symbols = outcomes.filter(([, o]) => o.status === status).map(([symbol]) => esc(symbol));
    if (symbols.length) lines.push(`${icon} ${symbols.length} ${status}: ${listed(symbols, ', ')}`);
  }
  return lines.join('\n');
}

export function formatStorageQuotaWarning(m: EventMessage<'storage.quota_warning'>): string {
  const gb = (bytes: number) => (bytes / 1e9).toFixed(1);
  return [`💾 <b>Artifact storage ${(m.usedFraction * 100).toFixed(0)}% full</b>`, `${gb(m.bytesUsed)} GB of ${gb(m.quotaBytes)} GB quota; retention keeps the top versions per symbol`].join('\n');
}

/** One line of the model digest: what was decided for a version, and the rule that decided it. */
export function formatModelLine(m: EventMessage<'model.promoted'> | EventMessage<'model.rejected'>): string {
  const d = m.decision;
  const name = `${esc(m.symbol)} v${m.version}`;
  const hit = `hit rate ${pct(m.metrics.directionalHitRate)}${m.productionMetrics ? ` vs ${pct(m.productionMetrics.directionalHitRate)}` : ''}`;
  if (d.outcome === 'promote') return d.applied ? `🚀 ${name} promoted (${esc(d.rule)}, ${hit})` : `🧪 ${name} would be promoted (${esc(d.mode)}, ${esc(d.rule)}, ${hit})`;
  if (d.outcome === 'not_comparable') return `⚖️ ${name} not compared (${esc(d.reason)})`;
  return `🛑 ${name} rejected (${esc(d.rule)}, ${hit})`;
}

const MAX_DIGEST_LINES = 25;

/** Many decisions in one phone-sized message: counts first, then the lines, the rest counted. */
export function formatDigest(lines: string[]): string {
  const count = (icon: string) => lines.filter((l) => l.startsWith(icon)).length;
  const counts = [['🚀', 'promoted'], ['🧪', 'would be promoted'], ['🛑', 'rejected'], ['⚖️', 'not compared']]
    .map(([icon, label]) => [count(icon), label] as const)
    .filter(([n]) => n > 0)
    .map(([n, label]) => `${n} ${label}`);
  const shown = lines.slice(0, MAX_DIGEST_LINES);
  const more = lines.length - shown.length;
  return [`📦 <b>Model decisions: ${counts.join(' · ')}</b>`, ...shown, ...(more > 0 ? [`… and ${more} more`] : [])].join('\n');
}
