import { modelKey, type EventMessage, type RunStatus, type Specialist } from '@trainyard/contracts';
import { escapeHtml as esc } from './html';

/** Lists are cut here, so a run of hundreds of symbols still fits one phone screen (and Telegram's 4096 characters). */
const MAX_LISTED = 10;
const MAX_ERROR_CHARS = 200;

const STATUS_ICON: Record<RunStatus, string> = { succeeded: '✅', partial: '⚠️', failed: '❌', cancelled: '⛔' };

export const minutes = (n: number) => `${n.toFixed(1)} min`;
export const money = (n: number) => `$${n.toFixed(2)}`;
export const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The first ten items and how many more: lists of hundreds of symbols still fit a phone screen. */
/** The first items, and how many more there are of `total` (items.length unless the caller knows of more). */
export function listed(items: string[], separator: string, total = items.length): string {
  const shown = items.slice(0, MAX_LISTED);
  const more = total - shown.length;
  if (more <= 0) return shown.join(separator);
  return shown.length ? `${shown.join(separator)}${separator}… and ${more} more` : `… ${more} not listed`;
}

export function formatRunStarted(m: EventMessage<'run.started'>): string {
  const lines = [`▶️ <b>Run ${esc(m.runId)} started</b> — ${m.totalJobs} symbol${m.totalJobs === 1 ? '' : 's'}`, `${esc(m.date)} · ${m.trigger} · ${m.mode}, up to ${m.maxConcurrent} at once`];
  if (m.symbols.length) lines.push(listed(m.symbols, ', '));
  return lines.join('\n');
}

/** What the promoter decided for a run's versions, when it told in time. */
export interface RunPromotions {
  /** Those the promoter's answer listed: all of them, unless the run is too large for one answer. */
  promoted: { symbol: string; variant?: Specialist; version: number }[];
  promotedCount: number;
  wouldPromote: number;
  /** Refused by a rule (a floor, a worse candidate, a changed artifact), each with the rule's reason; listed as `promoted`. */
  rejected: { symbol: string; variant?: Specialist; version: number; rule: string; reason: string }[];
  rejectedCount: number;
  notCompared: number;
}

/**
 * The run's summary: counts, median minutes, cost (work: its leases; and spend: what the GPU
 * provider billed for its instances destroyed by then, when the summary says), the promoted symbols,
 * and the jobs that failed after their last retry with their error.
 */
export function formatRunCompleted(m: EventMessage<'run.completed'>, promotions: RunPromotions | null = null): string {
  const s = m.summary;
  // Instances still up when the run completed are billed later: the spend is what was known then.
  const cost = s.spend === undefined ? `cost ${money(s.cost)}` : `work ${money(s.cost)}, spend ${money(s.spend)} so far`;
  const lines = [
    `${STATUS_ICON[m.status]} <b>Run ${esc(m.runId)} ${m.status}</b> — ${s.succeeded}/${s.total_symbols} symbols, median ${minutes(s.median_train_minutes)}, ${cost}`,
    `wall time ${minutes(s.total_wall_minutes)}`,
  ];
  // A run with regime specialists: how each variant did, the plain model (default) first.
  if (s.by_variant) {
    const groups = (['default', 'bull', 'bear', 'sideways'] as const).flatMap((v) => {
      const g = s.by_variant?.[v];
      if (!g) return [];
      const rest = (['failed', 'skipped', 'cancelled'] as const).filter((k) => g[k] > 0).map((k) => `${g[k]} ${k}`);
      return [`${v} ${g.succeeded}/${g.total}${rest.length ? ` (${rest.join(', ')})` : ''}`];
    });
    lines.push(`by variant: ${groups.join(' · ')}`);
  }
  if (promotions) {
    const p = promotions;
    if (p.promotedCount)
      lines.push(
        `🚀 <b>Promoted (${p.promotedCount})</b>: ${listed(
          p.promoted.map((v) => `${esc(modelKey(v.symbol, v.variant))} v${v.version}`),
          ', ',
          p.promotedCount,
        )}`,
      );
    if (p.rejectedCount) {
      const refusals = p.rejected.map((v) => `${esc(modelKey(v.symbol, v.variant))} v${v.version} (${esc(v.rule)}: ${esc(clip(v.reason, MAX_ERROR_CHARS))})`);
      lines.push(`🛑 <b>Refused (${p.rejectedCount})</b>: ${listed(refusals, ', ', p.rejectedCount)}`);
    }
    const others = [
      [p.wouldPromote, '🧪', 'would be promoted (dry)'],
      [p.notCompared, '⚖️', 'not compared'],
    ] as const;
    const said = others.filter(([n]) => n > 0).map(([n, icon, label]) => `${icon} ${n} ${label}`);
    if (said.length) lines.push(said.join(' · '));
  }
  const outcomes = Object.entries(s.by_symbol).sort(([a], [b]) => a.localeCompare(b));
  const failed = outcomes.filter(([, o]) => o.status === 'failed');
  if (failed.length) {
    lines.push(`<b>Failed (${s.failed})</b>`);
    const failures = failed.map(([symbol, o]) => {
      const attempts = `${o.attempts} attempt${o.attempts === 1 ? '' : 's'}`;
      return `❌ ${esc(symbol)} after ${attempts}: ${esc(clip(o.error ?? 'no error recorded', MAX_ERROR_CHARS))}`;
    });
    lines.push(listed(failures, '\n'));
  }
  for (const [status, icon] of [
    ['cancelled', '⛔'],
    ['skipped', '⏭'],
  ] as const) {
    const symbols = outcomes.filter(([, o]) => o.status === status).map(([symbol]) => esc(symbol));
    if (symbols.length) lines.push(`${icon} ${symbols.length} ${status}: ${listed(symbols, ', ')}`);
  }
  // A large run's message carries only part of by_symbol; the stored summary has the rest.
  if (s.by_symbol_omitted) lines.push(`… and ${s.by_symbol_omitted} more symbol${s.by_symbol_omitted === 1 ? '' : 's'} in the run's stored summary`);
  return lines.join('\n');
}

export function formatStorageQuotaWarning(m: EventMessage<'storage.quota_warning'>): string {
  const gb = (bytes: number) => (bytes / 1e9).toFixed(1);
  return [`💾 <b>Artifact storage ${(m.usedFraction * 100).toFixed(0)}% full</b>`, `${gb(m.bytesUsed)} GB of ${gb(m.quotaBytes)} GB quota; retention keeps the top versions per symbol`].join('\n');
}

/** One line of the model digest: what was decided for a version, and the rule that decided it. */
export function formatModelLine(m: EventMessage<'model.promoted'> | EventMessage<'model.rejected'>): string {
  const d = m.decision;
  const name = `${esc(modelKey(m.symbol, m.variant))} v${m.version}`;
  const hit = `hit rate ${pct(m.metrics.directionalHitRate)}${m.productionMetrics ? ` vs ${pct(m.productionMetrics.directionalHitRate)}` : ''}`;
  if (d.outcome === 'promote') return d.applied ? `🚀 ${name} promoted (${esc(d.rule)}, ${hit})` : `🧪 ${name} would be promoted (${esc(d.mode)}, ${esc(d.rule)}, ${hit})`;
  if (d.outcome === 'not_comparable') return `⚖️ ${name} not compared (${esc(d.reason)})`;
  return `🛑 ${name} rejected (${esc(d.rule)}, ${hit})`;
}

/** One digest line for a job the scheduler gave up on: what failed, how, and how to try again. */
export function formatGaveUpLine(m: EventMessage<'job.gave_up'>): string {
  const attempts = `${m.attempt} attempt${m.attempt === 1 ? '' : 's'}`;
  return `❌ ${esc(m.symbol)} failed after ${attempts} (${m.errorType}): ${esc(clip(m.message.split('\n')[0] ?? '', 120))} · /retry <code>${esc(m.jobId)}</code>`;
}

export function formatRolledBackLine(m: EventMessage<'model.rolled_back'>): string {
  return `⏪ ${esc(modelKey(m.symbol, m.variant))} back to v${m.version}${m.fromVersion ? ` (was v${m.fromVersion})` : ''}: ${esc(clip(m.reason, 120))}`;
}

const INSTANCE_ALERT_TITLES: Record<EventMessage<'instance.alert'>['kind'], string> = {
  budget_exhausted: "Today's GPU rental budget is spent",
  auth_failed: 'Vast.ai refuses the API key',
  destroy_failing: 'A rented instance will not be destroyed',
  no_offers: 'No GPU offer matches',
  provision_failed: 'A rented instance failed to start',
};

export function formatInstanceAlert(m: EventMessage<'instance.alert'>): string {
  return [`🚨 <b>${INSTANCE_ALERT_TITLES[m.kind]}</b>${m.instanceId ? ` (instance ${m.instanceId})` : ''}`, esc(clip(m.message, 500))].join('\n');
}

const MAX_DIGEST_LINES = 25;

/** The kinds of digest line, by their first symbol, in the order a digest lists them: failures first. */
const DIGEST_KINDS = [
  ['❌', 'failed for good'],
  ['🚀', 'promoted'],
  ['⏪', 'rolled back'],
  ['🧪', 'would be promoted'],
  ['🛑', 'rejected'],
  ['⚖️', 'not compared'],
] as const;

const kindOf = (line: string) => {
  const i = DIGEST_KINDS.findIndex(([icon]) => line.startsWith(icon));
  return i === -1 ? DIGEST_KINDS.length : i;
};

/** Many decisions and failures in one phone-sized message: counts first, then the lines (failures first), the rest counted. */
export function formatDigest(lines: string[]): string {
  const counts = DIGEST_KINDS.map(([icon, label]) => [lines.filter((l) => l.startsWith(icon)).length, label] as const)
    .filter(([n]) => n > 0)
    .map(([n, label]) => `${n} ${label}`);
  const ordered = lines.map((line, i) => ({ line, i })).sort((a, b) => kindOf(a.line) - kindOf(b.line) || a.i - b.i);
  const shown = ordered.slice(0, MAX_DIGEST_LINES).map((l) => l.line);
  const more = lines.length - shown.length;
  return [`📦 <b>Digest: ${counts.join(' · ')}</b>`, ...shown, ...(more > 0 ? [`… and ${more} more`] : [])].join('\n');
}
