import type { INestApplication } from '@nestjs/common';
import type { EventMessage, QueryResponseInput, RunSummary, VersionView } from '@trainyard/contracts';
import { NatsBus, runModelsAnswer } from '@trainyard/messaging';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { startTelegramTestServer, testNatsUrl, TestService, waitFor, type TelegramTestServer } from '@trainyard/testing';
import { DataSource } from 'typeorm';
import { AppModule } from '../app.module';
import { notifierEnv } from '../config/notifier.config';
import { htmlToText } from './html';

jest.setTimeout(90_000);

const CHAT = -500;
const SYMBOLS = Array.from({ length: 300 }, (_, i) => `S${String(i).padStart(3, '0')}USDT`);
const FAILED = new Set(SYMBOLS.slice(0, 5));
const REJECTED = new Set(SYMBOLS.slice(5, 20));
const metrics = { directionalHitRate: 0.55, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.1, mae: 0, rmse: 0, mape: 0, r2: 0 };

const view = (symbol: string, version: number, decided: boolean): VersionView => ({
  symbol,
  version,
  stage: REJECTED.has(symbol) || !decided ? 'candidate' : 'production',
  runId: 'daily-big',
  jobId: `daily-big-${symbol}`,
  createdAt: '2026-11-23T01:00:00.000Z',
  promotedAt: null,
  metrics,
  artifactsPrefix: `models/${symbol}/v${version}`,
  pruned: false,
  decision: decided
    ? {
        outcome: REJECTED.has(symbol) ? 'reject' : 'promote',
        rule: REJECTED.has(symbol) ? 'lower_hit_rate' : 'higher_hit_rate',
        mode: 'auto',
        applied: !REJECTED.has(symbol),
        reason: '…',
        productionVersion: version > 1 ? version - 1 : null,
      }
    : null,
});

const curve = (drift: number) => JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ t: Date.UTC(2026, 9, 1) + i * 3_600_000, equity: 1 + drift * i })));

/**
 * A 300-symbol run as the notifier sees it, on real NATS and PostgreSQL with telegraf against the
 * Bot API test server; the promoter's answers come from a stand-in on the bus.
 */
describe('run reports and bursts', () => {
  const svc = new TestService({ env: notifierEnv, module: AppModule.forRoot, prefix: 'rpt' });
  const { prefix } = svc;
  let tg: TelegramTestServer;
  let app: INestApplication;
  let promoter: NatsBus;
  let store: ArtifactStore;

  beforeAll(async () => {
    tg = await startTelegramTestServer();
    app = await svc.start({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_URL: tg.url,
      TELEGRAM_CHAT_IDS: String(CHAT),
      TELEGRAM_COMMANDS: 'false',
      NOTIFIER_DIGEST_SECONDS: '1',
      NOTIFIER_DIGEST_MAX_SECONDS: '4',
      NOTIFIER_PROMOTION_WAIT_SECONDS: '10',
    });
    store = app.get(ARTIFACT_STORE);
    promoter = await NatsBus.connect({ serviceName: 'promoter', natsUrl: testNatsUrl(), prefix });
  });

  afterAll(async () => {
    await svc.close();
    await promoter?.onApplicationShutdown();
    await tg?.close();
  });

  const summary = (bySymbol: [string, RunSummary['by_symbol'][string]][]): RunSummary => {
    const count = (s: string) => bySymbol.filter(([, o]) => o.status === s).length;
    return {
      total_symbols: bySymbol.length,
      succeeded: count('succeeded'),
      failed: count('failed'),
      skipped: 0,
      cancelled: 0,
      avg_train_minutes: 1,
      median_train_minutes: 1,
      total_wall_minutes: 30,
      cost: 1.5,
      by_symbol: Object.fromEntries(bySymbol),
    };
  };

  it('reports a 300-symbol run in a bounded number of messages, naming the promoted symbols, with one equity chart', async () => {
    // Three promoted candidates left an equity curve, one of them beside its production version's.
    await store.put(`models/${SYMBOLS[20]}/v2/equity.json`, curve(0.0005));
    await store.put(`models/${SYMBOLS[20]}/v1/equity.json`, curve(0.0002));
    await store.put(`models/${SYMBOLS[21]}/v2/equity.json`, curve(0.0004));
    await store.put(`models/${SYMBOLS[22]}/v2/equity.json`, curve(-0.0001));
    // The promoter decides the last versions only after the run completed.
    let asked = 0;
    const sub = await promoter.answer('models.of_run', async ({ runId }): Promise<QueryResponseInput<'models.of_run'>> => {
      asked++;
      const versions = SYMBOLS.filter((s) => !FAILED.has(s)).map((s, i) => ({ ...view(s, 2, asked > 2 || i < 200), baseline: view(s, 1, true) }));
      return runModelsAnswer(runId === 'daily-big' ? versions : [], 1024 * 1024);
    });
    try {
      await promoter.publish('run.started', { runId: 'daily-big', date: '2026-11-22', trigger: 'cron', mode: 'hybrid', maxConcurrent: 12, totalJobs: 300, symbols: SYMBOLS });
      for (const s of FAILED) {
        await promoter.publish('job.gave_up', { jobId: `daily-big-${s}`, runId: 'daily-big', symbol: s, attempt: 3, errorType: 'oom', message: 'CUDA out of memory' });
      }
      for (const s of SYMBOLS.filter((x) => !FAILED.has(x))) {
        const m = view(s, 2, true);
        const event = { symbol: s, version: 2, runId: 'daily-big', jobId: m.jobId, metrics, productionMetrics: metrics, decision: { ...m.decision!, productionVersion: undefined } };
        if (REJECTED.has(s)) await promoter.publish('model.rejected', event);
        else await promoter.publish('model.promoted', { ...event, productionUri: `file:///x/${s}/CURRENT.json` });
      }
      const outcomes = SYMBOLS.map((s): [string, RunSummary['by_symbol'][string]] => [
        s,
        FAILED.has(s)
          ? { status: 'failed', attempts: 3, trainMinutes: null, metrics: null, error: 'oom: CUDA out of memory' }
          : { status: 'succeeded', attempts: 1, trainMinutes: 1, metrics, error: null },
      ]);
      await promoter.publish('run.completed', { runId: 'daily-big', date: '2026-11-22', status: 'partial', summary: summary(outcomes), summaryUri: null });

      const report = await waitFor(() => tg.sent.find((s) => s.text?.includes('Run daily-big partial')), 'the run report', 30_000);
      const chart = await waitFor(() => tg.sent.find((s) => s.method === 'sendPhoto'), 'the equity chart', 30_000);
      const ds = app.get(DataSource);
      await waitFor(async () => (await ds.query(`SELECT count(*)::int AS n FROM notifier.digest_lines WHERE sent_at IS NULL`))[0].n === 0, 'every digest line sent', 30_000);

      const text = htmlToText(report.text!);
      expect(asked).toBeGreaterThanOrEqual(3);
      expect(text.split('\n').slice(0, 4)).toEqual([
        '⚠️ Run daily-big partial — 295/300 symbols, median 1.0 min, cost $1.50',
        'wall time 30.0 min',
        `🚀 Promoted (280): ${SYMBOLS.slice(20, 30).join(' v2, ')} v2, … and 270 more`,
        `🛑 Refused (15): ${SYMBOLS.slice(5, 15).join(' v2 (lower_hit_rate: …), ')} v2 (lower_hit_rate: …), … and 5 more`,
      ]);
      expect(text).toMatch(/Failed \(5\)\n❌ S000USDT after 3 attempts: oom: CUDA out of memory/);

      expect(chart.photo!.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect([chart.photo!.readUInt32BE(16), chart.photo!.readUInt32BE(20)]).toEqual([1040, 44 + 2 * 300]);
      expect(htmlToText(chart.caption!)).toBe(
        `📈 Run daily-big: equity after costs, promoted candidates against production — ${SYMBOLS[20]} v2 vs v1, ${SYMBOLS[21]} v2, ${SYMBOLS[22]} v2 (277 more promoted, not drawn)`,
      );

      // 600 events: the start, a few digests, the report and its chart.
      const digests = tg.sent.filter((s) => s.text?.startsWith('📦'));
      expect(tg.sent.length).toBe(digests.length + 3);
      expect(digests.length).toBeGreaterThanOrEqual(1);
      expect(digests.length).toBeLessThanOrEqual(4);
      const counted = digests.map((d) => /Digest: (.*)<\/b>/.exec(d.text!)![1]).join(' · ');
      const total = (label: string) => [...counted.matchAll(new RegExp(`(\\d+) ${label}`, 'g'))].reduce((n, m) => n + Number(m[1]), 0);
      expect([total('failed for good'), total('promoted'), total('rejected')]).toEqual([5, 280, 15]);
      expect(tg.sent.every((s) => s.chatId === String(CHAT))).toBe(true);
    } finally {
      await sub.drain();
    }
  });

  it('sends no chart when no promoted version left an equity curve, and does not wait for a promoter that is not there', async () => {
    const oneSymbol: EventMessage<'run.completed'>['summary'] = summary([['XRPUSDT', { status: 'succeeded', attempts: 1, trainMinutes: 1, metrics, error: null }]]);
    const sub = await promoter.answer('models.of_run', async ({ runId }) => runModelsAnswer([{ ...view('XRPUSDT', 1, true), runId, baseline: null }], 1024 * 1024));
    await promoter.publish('run.completed', { runId: 'daily-nochart', date: '2026-11-22', status: 'succeeded', summary: oneSymbol, summaryUri: null });
    const report = await waitFor(() => tg.sent.find((s) => s.text?.includes('Run daily-nochart')), 'the report without a chart');
    expect(htmlToText(report.text!)).toMatch(/🚀 Promoted \(1\): XRPUSDT v1/);
    await sub.drain();

    const started = Date.now();
    await promoter.publish('run.completed', { runId: 'daily-alone', date: '2026-11-22', status: 'succeeded', summary: oneSymbol, summaryUri: null });
    const alone = await waitFor(() => tg.sent.find((s) => s.text?.includes('Run daily-alone')), 'the report with no promoter');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(htmlToText(alone.text!)).not.toMatch(/Promoted/);
    expect(tg.sent.filter((s) => s.method === 'sendPhoto')).toHaveLength(1);
  });
});
