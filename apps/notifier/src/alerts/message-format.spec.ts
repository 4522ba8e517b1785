import type { EventMessage, Metrics } from '@trainyard/contracts';
import { htmlToText } from './html';
import {
  formatDigest,
  formatGaveUpLine,
  formatInstanceAlert,
  formatModelLine,
  formatRolledBackLine,
  formatRunCompleted,
  formatRunStarted,
  formatStorageQuotaWarning,
  type RunPromotions,
} from './message-format';

/** What the promoter decided, counted from the lists unless a count says the answer listed fewer. */
const promotions = (over: Partial<RunPromotions>): RunPromotions => {
  const p = { promoted: [], wouldPromote: 0, rejected: [], notCompared: 0, ...over };
  return { ...p, promotedCount: over.promotedCount ?? p.promoted.length, rejectedCount: over.rejectedCount ?? p.rejected.length };
};

const envelope = { schemaVersion: 1 as const, id: 'm1', occurredAt: '2026-11-23T01:00:00.000Z' };
const metrics = (directionalHitRate: number, maxDrawdown = 0.08): Metrics => ({
  directionalHitRate,
  sharpe: 1.234,
  maxDrawdown,
  totalReturn: 0.04,
  mae: 0.01,
  rmse: 0.02,
  mape: 1.1,
  r2: 0.03,
});
const ok = (trainMinutes: number) => ({ status: 'succeeded' as const, attempts: 1, trainMinutes, metrics: metrics(0.55), error: null });

function completed(over: Partial<EventMessage<'run.completed'>> = {}, summary: Partial<EventMessage<'run.completed'>['summary']> = {}): EventMessage<'run.completed'> {
  return {
    ...envelope,
    runId: 'daily-20261122',
    date: '2026-11-22',
    status: 'succeeded',
    summaryUri: null,
    summary: {
      total_symbols: 3,
      succeeded: 3,
      failed: 0,
      skipped: 0,
      cancelled: 0,
      avg_train_minutes: 0.1,
      median_train_minutes: 0.1,
      total_wall_minutes: 0.45,
      cost: 0,
      by_symbol: { BTCUSDT: ok(0.1), ETHUSDT: ok(0.12), SOLUSDT: ok(0.08) },
      ...summary,
    },
    ...over,
  };
}

const promoted = (decision: Partial<EventMessage<'model.promoted'>['decision']>, productionMetrics: Metrics | null): EventMessage<'model.promoted'> => ({
  ...envelope,
  symbol: 'BTCUSDT',
  version: 3,
  runId: 'daily-20261122',
  jobId: 'daily-20261122-BTCUSDT',
  metrics: metrics(0.5625),
  productionMetrics,
  decision: { outcome: 'promote', rule: 'higher_hit_rate', mode: 'auto', applied: true, reason: 'hit rate 56.25% > production 53.00%', ...decision },
  productionUri: 'file:///data/models/production/BTCUSDT/CURRENT.json',
});

describe('message formatting', () => {
  it('summarises a successful run on one line', () => {
    expect(htmlToText(formatRunCompleted(completed()))).toBe(['✅ Run daily-20261122 succeeded — 3/3 symbols, median 0.1 min, cost $0.00', 'wall time 0.5 min'].join('\n'));
    expect(formatRunCompleted(completed())).toMatch(/^✅ <b>Run daily-20261122 succeeded<\/b> — /);
  });

  it('groups a run with regime specialists by variant, and names specialists as SYMBOL/variant', () => {
    const bull = { status: 'succeeded' as const, attempts: 1, trainMinutes: 0.1, metrics: metrics(0.55), error: null };
    const failed = { status: 'failed' as const, attempts: 3, trainMinutes: null, metrics: null, error: 'bad_data: too few bear bars for a bear specialist' };
    const text = htmlToText(
      formatRunCompleted(
        completed(
          { status: 'partial' },
          {
            total_symbols: 3,
            succeeded: 2,
            failed: 1,
            by_symbol: { BTCUSDT: ok(0.1), 'BTCUSDT/bull': bull, 'BTCUSDT/bear': failed },
            by_variant: {
              default: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
              bull: { total: 1, succeeded: 1, failed: 0, skipped: 0, cancelled: 0 },
              bear: { total: 1, succeeded: 0, failed: 1, skipped: 0, cancelled: 0 },
            },
          },
        ),
        promotions({
          promoted: [
            { symbol: 'BTCUSDT', version: 2 },
            { symbol: 'BTCUSDT', variant: 'bull', version: 1 },
          ],
        }),
      ),
    );
    expect(text).toContain('by variant: default 1/1 · bull 1/1 · bear 0/1 (1 failed)');
    expect(text).toContain('Promoted (2): BTCUSDT v2, BTCUSDT/bull v1');
    expect(text).toContain('❌ BTCUSDT/bear after 3 attempts: bad_data: too few bear bars');
    expect(htmlToText(formatModelLine({ ...promoted({}, metrics(0.53)), variant: 'bear' }))).toMatch(/^🚀 BTCUSDT\/bear v3 promoted/);
    expect(htmlToText(formatRunCompleted(completed()))).not.toContain('by variant');
  });

  it('puts the spend known at completion beside the work cost', () => {
    expect(htmlToText(formatRunCompleted(completed({}, { cost: 0.4567, spend: 1.2049 }))).split('\n')[0]).toBe(
      '✅ Run daily-20261122 succeeded — 3/3 symbols, median 0.1 min, work $0.46, spend $1.20 so far',
    );
  });

  it('lists the symbols that failed after their last retry, with their error, escaped', () => {
    const text = formatRunCompleted(
      completed(
        { status: 'partial' },
        {
          succeeded: 1,
          failed: 1,
          skipped: 1,
          cost: 0.4567,
          by_symbol: {
            SOLUSDT: { status: 'skipped', attempts: 0, trainMinutes: null, metrics: null, error: 'already trained' },
            ETHUSDT: { status: 'failed', attempts: 3, trainMinutes: null, metrics: null, error: 'oom: CUDA out of memory <GPU 0>' },
            BTCUSDT: ok(0.1),
          },
        },
      ),
    );
    expect(text).toBe(
      [
        '⚠️ <b>Run daily-20261122 partial</b> — 1/3 symbols, median 0.1 min, cost $0.46',
        'wall time 0.5 min',
        '<b>Failed (1)</b>',
        '❌ ETHUSDT after 3 attempts: oom: CUDA out of memory &lt;GPU 0&gt;',
        '⏭ 1 skipped: SOLUSDT',
      ].join('\n'),
    );
  });

  it('keeps a long run readable: at most ten failures, errors cut short', () => {
    const by_symbol = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`SYM${String(i).padStart(2, '0')}`, { status: 'failed' as const, attempts: 3, trainMinutes: null, metrics: null, error: 'x'.repeat(500) }]),
    );
    const text = formatRunCompleted(completed({ status: 'failed' }, { total_symbols: 25, succeeded: 0, failed: 25, by_symbol }));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^❌ <b>Run daily-20261122 failed<\/b> — 0\/25 symbols/);
    expect(lines.filter((l) => l.startsWith('❌ SYM'))).toHaveLength(10);
    expect(lines.at(-1)).toBe('… and 15 more');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(240);
    expect(text.length).toBeLessThan(4096);
  });

  it('announces a run start with its symbols', () => {
    const m: EventMessage<'run.started'> = {
      ...envelope,
      runId: 'daily-20261122',
      date: '2026-11-22',
      trigger: 'cron',
      mode: 'hybrid',
      maxConcurrent: 2,
      totalJobs: 3,
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    };
    expect(htmlToText(formatRunStarted(m))).toBe(['▶️ Run daily-20261122 started — 3 symbols', '2026-11-22 · cron · hybrid, up to 2 at once', 'BTCUSDT, ETHUSDT, SOLUSDT'].join('\n'));
  });

  it('puts each decision on one line, telling a promotion from a dry verdict, a rejection and a non-comparison', () => {
    const base = promoted({}, metrics(0.53, 0.1));
    const rejected = (decision: EventMessage<'model.rejected'>['decision']): EventMessage<'model.rejected'> => ({ ...base, decision });
    expect(htmlToText(formatModelLine(base))).toBe('🚀 BTCUSDT v3 promoted (higher_hit_rate, hit rate 56.3% vs 53.0%)');
    expect(htmlToText(formatModelLine(promoted({ mode: 'dry', applied: false, rule: 'no_production', reason: 'none yet' }, null)))).toBe(
      '🧪 BTCUSDT v3 would be promoted (dry, no_production, hit rate 56.3%)',
    );
    expect(htmlToText(formatModelLine(rejected({ outcome: 'reject', rule: 'lower_hit_rate', mode: 'auto', applied: false, reason: 'lower' })))).toBe(
      '🛑 BTCUSDT v3 rejected (lower_hit_rate, hit rate 56.3% vs 53.0%)',
    );
    expect(htmlToText(formatModelLine(rejected({ outcome: 'not_comparable', rule: 'costs_differ', mode: 'auto', applied: false, reason: 'costs differ' })))).toBe(
      '⚖️ BTCUSDT v3 not compared (costs differ)',
    );
  });

  it('keeps a digest of many decisions phone-sized: counts, 25 lines with failures first, the rest counted', () => {
    const lines = [
      ...Array.from({ length: 280 }, (_, i) => `🚀 S${i} v1 promoted (no_production, hit rate 55.0%)`),
      ...Array.from({ length: 20 }, (_, i) => `🛑 R${i} v2 rejected (lower_hit_rate, hit rate 50.0% vs 51.0%)`),
      '❌ XRPUSDT failed after 3 attempts (oom): CUDA out of memory · /retry <code>daily-20261122-XRPUSDT</code>',
    ];
    const text = htmlToText(formatDigest(lines)).split('\n');
    expect(text[0]).toBe('📦 Digest: 1 failed for good · 280 promoted · 20 rejected');
    expect(text[1]).toMatch(/^❌ XRPUSDT failed/);
    expect(text[2]).toMatch(/^🚀 S0 v1/);
    expect(text).toHaveLength(1 + 25 + 1);
    expect(text[text.length - 1]).toBe('… and 276 more');
  });

  it('names the promoted symbols of a run and counts the other decisions', () => {
    const text = htmlToText(
      formatRunCompleted(
        completed(),
        promotions({
          promoted: [
            { symbol: 'BTCUSDT', version: 3 },
            { symbol: 'ETHUSDT', version: 1 },
          ],
          rejected: [{ symbol: 'SOLUSDT', version: 1, rule: 'below_floor', reason: 'Sharpe -2.70 below the floor 0.00' }],
        }),
      ),
    );
    expect(text.split('\n').slice(2)).toEqual(['🚀 Promoted (2): BTCUSDT v3, ETHUSDT v1', '🛑 Refused (1): SOLUSDT v1 (below_floor: Sharpe -2.70 below the floor 0.00)']);
    expect(htmlToText(formatRunCompleted(completed(), promotions({}))).split('\n')).toHaveLength(2);
  });

  it("counts a large run's decisions whole when the promoter's answer listed only part of them", () => {
    const text = htmlToText(formatRunCompleted(completed(), promotions({ promoted: [{ symbol: 'BTCUSDT', version: 3 }], promotedCount: 1800, rejectedCount: 3200 })));
    expect(text).toContain('🚀 Promoted (1800): BTCUSDT v3, … and 1799 more');
    expect(text).toContain('🛑 Refused (3200): … 3200 not listed');
  });

  it('tells a job given up on with its error type, a short message and the job id to retry', () => {
    const m = {
      ...envelope,
      jobId: 'daily-20261122-XRPUSDT',
      runId: 'daily-20261122',
      symbol: 'XRPUSDT',
      attempt: 3,
      errorType: 'oom' as const,
      message: `CUDA out of memory <GPU 0>${'x'.repeat(300)}\nTraceback…`,
    };
    const line = formatGaveUpLine(m);
    expect(line).toMatch(/^❌ XRPUSDT failed after 3 attempts \(oom\): CUDA out of memory &lt;GPU 0&gt;x+… · \/retry <code>daily-20261122-XRPUSDT<\/code>$/);
    expect(htmlToText(line).length).toBeLessThan(200);
  });

  it("tells a rollback and the broker's renting alerts", () => {
    const rolledBack = { ...envelope, symbol: 'BTCUSDT', version: 2, runId: 'r', jobId: 'j', fromVersion: 3, reason: 'rolled back by telegram:42' };
    expect(htmlToText(formatRolledBackLine(rolledBack))).toBe('⏪ BTCUSDT back to v2 (was v3): rolled back by telegram:42');
    const alert = { ...envelope, kind: 'budget_exhausted' as const, message: 'spent $50.00 of $50.00 today', instanceId: null };
    expect(htmlToText(formatInstanceAlert(alert))).toBe("🚨 Today's GPU rental budget is spent\nspent $50.00 of $50.00 today");
  });

  it('warns about storage in gigabytes and percent', () => {
    const m = { schemaVersion: 1, id: 'q', occurredAt: '2026-11-23T00:00:00Z', bytesUsed: 8.5e9, quotaBytes: 10e9, usedFraction: 0.85 } as EventMessage<'storage.quota_warning'>;
    expect(htmlToText(formatStorageQuotaWarning(m))).toMatch(/Artifact storage 85% full\n8\.5 GB of 10\.0 GB quota/);
  });
});
