import type { LoggerService } from '@nestjs/common';
import { CAPACITY_KEY, capacityBucket, type QueryResponseInput, type VersionView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, startTelegramTestServer, testNatsUrl, TestService, waitFor, type TelegramTestServer } from '@trainyard/testing';
import { htmlToText } from '../alerts/html';
import { AppModule } from '../app.module';
import { notifierEnv } from '../config/notifier.config';

jest.setTimeout(60_000);

const GROUP = -100200300;
const OPERATOR = { id: 42, username: 'olga' };
const VIEWER = { id: 7, username: 'viktor' };
const STRANGER = { id: 666, username: 'eve' };

const logs: string[] = [];
const capture: LoggerService = {
  log: (m: unknown) => void logs.push(String(m)),
  warn: (m: unknown) => void logs.push(String(m)),
  error: (m: unknown) => void logs.push(String(m)),
  debug: () => undefined,
  verbose: () => undefined,
};

const run = (runId: string, over: Partial<QueryResponseInput<'runs.active'>['runs'][number]> = {}) => ({
  runId,
  date: '2026-11-22',
  trigger: 'cron' as const,
  status: 'running' as const,
  mode: 'hybrid' as const,
  maxConcurrent: 12,
  requestedBy: null,
  createdAt: '2026-11-23T00:15:00.000Z',
  startedAt: '2026-11-23T00:15:01.000Z',
  completedAt: null,
  totalJobs: 300,
  jobs: { succeeded: 120, failed: 3, running: 12, pending: 165 },
  cost: 1.234,
  etaMinutes: 42,
  ...over,
});

const version = (v: number, stage: VersionView['stage'], sharpe: number): VersionView => ({
  symbol: 'BTCUSDT',
  version: v,
  stage,
  runId: `daily-2026112${v}`,
  jobId: `daily-2026112${v}-BTCUSDT`,
  createdAt: `2026-11-2${v}T01:00:00.000Z`,
  promotedAt: null,
  metrics: { directionalHitRate: 0.5 + v / 100, sharpe, maxDrawdown: 0.1, totalReturn: 0.05, mae: 0.01, rmse: 0.02, mape: 1, r2: 0.1 },
  artifactsPrefix: `models/BTCUSDT/2026112${v}_010000Z`,
  pruned: false,
  decision: { outcome: v === 2 ? 'promote' : 'reject', rule: v === 2 ? 'higher_hit_rate' : 'lower_hit_rate', mode: 'auto', applied: v === 2, reason: '…', productionVersion: v > 1 ? v - 1 : null },
});

/** The notifier with its bot on real NATS and PostgreSQL, telegraf against the Bot API test server; the scheduler's and promoter's answers come from stand-ins on the bus. */
describe('the Telegram bot', () => {
  const svc = new TestService({ env: notifierEnv, module: AppModule.forRoot, prefix: 'bot', logger: capture });
  const { prefix } = svc;
  let tg: TelegramTestServer;
  let services: NatsBus;

  beforeAll(async () => {
    tg = await startTelegramTestServer();
    await svc.start({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_URL: tg.url,
      TELEGRAM_CHAT_IDS: `${GROUP},${OPERATOR.id}`,
      TELEGRAM_OPERATOR_IDS: String(OPERATOR.id),
      NOTIFIER_QUERY_TIMEOUT_MS: '1500',
    });
    // The scheduler's and the promoter's side of the questions, on the same NATS.
    services = await NatsBus.connect({ serviceName: 'stand-in', natsUrl: testNatsUrl(), prefix });
  });

  afterAll(async () => {
    await svc.close();
    await services?.onApplicationShutdown();
    await tg?.close();
  });

  /** A user's message, and the bot's replies to it once `count` have come. */
  async function say(chatId: number, from: { id: number; username: string }, text: string, count = 1) {
    const update = tg.userSays({ chatId, from, text });
    const messageId = (update.message as { message_id: number }).message_id;
    const replies = await waitFor(
      () => {
        const r = tg.sentTo(chatId, messageId);
        return r.length >= count ? r : null;
      },
      `${count} repl${count === 1 ? 'y' : 'ies'} to "${text}"`,
    );
    return { messageId, replies, text: replies.map((r) => htmlToText(r.text ?? r.caption ?? '')).join('\n') };
  }

  const published = (subject: string) => readStored(prefix, subject).then((ms) => ms.map((m) => m.data));

  it('does nothing for a chat not on the allow-list: no reply, nothing on the bus, nothing of the text in the log', async () => {
    tg.userSays({ chatId: STRANGER.id, from: STRANGER, text: '/run BTCUSDT --force secret-words' });
    tg.userSays({ chatId: STRANGER.id, from: STRANGER, text: '/status' });
    // An operator's id does not open a chat that is not allowed.
    tg.userSays({ chatId: 777, from: OPERATOR, text: '/run ETHUSDT' });
    await say(GROUP, VIEWER, '/help');
    expect(tg.sentTo(STRANGER.id)).toEqual([]);
    expect(tg.sentTo(777)).toEqual([]);
    expect(await published('run.requested')).toEqual([]);
    expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/ignored a message from user 666 in chat 666: the chat is not on the allow-list/)]));
    expect(logs.join('\n')).not.toMatch(/secret-words|BTCUSDT/);
  });

  it('lets a non-operator ask but not change anything', async () => {
    const help = await say(GROUP, VIEWER, '/help@trainyard_test_bot');
    expect(help.text).toMatch(/Operators only \(you are not one\)/);
    expect(help.text).toMatch(/\/run <symbols\|topN> \[flags\]/);
    for (const command of ['/run BTCUSDT', '/cancel daily-20261122', '/retry daily-20261122-BTCUSDT', '/promote BTCUSDT 2', '/rollback BTCUSDT']) {
      const name = command.split(' ')[0];
      expect((await say(GROUP, VIEWER, command)).text).toBe(`⛔ ${name} changes things: only operators may use it.`);
    }
    for (const subject of ['run.requested', 'run.cancel', 'job.retry', 'model.promote', 'model.rollback', 'job.*.cancel']) expect(await published(subject)).toEqual([]);
    expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/refused \/run from user 7 in chat -100200300: not an operator/)]));
  });

  it("starts an operator's /run over the bus and replies with the scheduler's plan", async () => {
    const asked = await say(GROUP, OPERATOR, '/run btcusdt, ethusdt —promote auto --dry-run --priority high --variants default,bull');
    const runId = /Run (tg-\d{14}-[0-9a-f]{6}) requested/.exec(asked.text)?.[1];
    expect(asked.text).toMatch(/requested: 2 symbols · hybrid · promote auto · priority high · variants default,bull · dry run\. The plan follows\./);
    expect(runId).toBeDefined();
    const [request] = await published('run.requested');
    expect(request).toMatchObject({
      id: `${runId}-request`,
      runId,
      trigger: 'telegram',
      symbols: ['BTCUSDT', 'ETHUSDT'],
      promote: 'auto',
      dryRun: true,
      priority: 'high',
      variants: ['default', 'bull'],
      requestedBy: 'telegram:42 (@olga)',
    });

    await services.publish('run.planned', {
      runId: runId!,
      date: '2026-11-22',
      jobs: [
        { jobId: `${runId}-BTCUSDT`, symbol: 'BTCUSDT', priority: 'high', specHash: 'a'.repeat(64) },
        { jobId: `${runId}-ETHUSDT`, symbol: 'ETHUSDT', priority: 'high', specHash: 'b'.repeat(64) },
      ],
      skipped: [],
      forecast: { gpuHours: 0, cost: 0, wallMinutes: 12 },
      dryRun: true,
    });
    const plan = await waitFor(() => tg.sentTo(GROUP, asked.messageId)[1], 'the plan as a reply');
    expect(htmlToText(plan.text!)).toBe(`📋 Run ${runId} planned: 2 jobs for 2026-11-22 — dry run, nothing launched\norder: BTCUSDT, ETHUSDT\nforecast: ~12 min · 0.00 GPU h · $0.00`);
  });

  it('answers /status, /runs, /costs and /gpus from the services, and says when one does not answer', async () => {
    expect((await say(GROUP, VIEWER, '/status')).text).toBe('⚠️ the scheduler does not answer runs.active (is it running?)');

    const window = { cost: 2.5, jobs: 40, trainHours: 3.25, runs: 2 };
    const subs = await Promise.all([
      services.answer('runs.active', async () => ({ runs: [run('daily-20261122')], slotsHeld: 12 })),
      services.answer('runs.recent', async ({ limit }) => ({
        runs: [run('daily-20261122'), run('daily-20261121', { status: 'succeeded', etaMinutes: null, jobs: { succeeded: 300 }, cost: 3 })].slice(0, limit),
      })),
      services.answer('runs.costs', async () => ({
        today: { since: '2026-11-23T00:00:00.000Z', ...window, spend: 6.75, instances: 2 },
        week: { since: '2026-11-23T00:00:00.000Z', ...window, cost: 10, spend: 24, instances: 5 },
      })),
    ]);
    try {
      expect((await say(GROUP, VIEWER, '/status')).text).toBe(
        'Runs in progress (1)\n▶️ daily-20261122 2026-11-22 · cron — 123/300 done · 12 running · 165 waiting · 3 failed · $1.23 · ETA 42 min\n🔌 12 jobs holding a slot',
      );
      expect((await say(GROUP, VIEWER, '/runs')).text).toBe(
        'Recent runs\n▶️ daily-20261122 2026-11-22 · cron — 123/300 done · 12 running · 165 waiting · 3 failed · $1.23 · ETA 42 min\n✅ daily-20261121 2026-11-22 · cron — 300/300 done · $3.00',
      );
      expect((await say(GROUP, VIEWER, '/costs')).text).toBe(
        [
          '💰 Costs (UTC) — work: the leases of jobs finished · spend: what the GPU provider billed',
          'Today: work $2.50 — 40 jobs, 3.3 train hours, 2 runs',
          '   spend $6.75 — 2 instances destroyed',
          'This week (since Mon, 23 Nov): work $10.00 — 40 jobs, 3.3 train hours, 2 runs',
          '   spend $24.00 — 5 instances destroyed',
        ].join('\n'),
      );
      expect((await say(GROUP, VIEWER, '/gpus')).text).toBe('🖥 The broker has not reported capacity yet.\n🔌 12 jobs holding a slot now');
      const kv = await services.keyValue(capacityBucket(prefix));
      await kv.put(CAPACITY_KEY, JSON.stringify({ agents: 2, gpus: 4, cpuSlots: 8, pricePerHour: 0.35, updatedAt: new Date().toISOString() }));
      expect((await say(GROUP, VIEWER, '/gpus')).text).toMatch(/^🖥 Capacity: 2 agents · 4 GPUs · 8 CPU slots\n\$0\.35 per slot-hour · updated \d+ s ago\n🔌 12 jobs holding a slot now$/);
      // Once the broker answers, /gpus shows each agent's GPUs and the jobs on them, and the rented instances.
      const at = '2026-11-23T10:00:00.000Z';
      subs.push(
        await services.answer('leases.active', async () => ({
          agents: [
            {
              agentId: 'gpu-box',
              provider: 'local',
              host: 'box',
              status: 'alive',
              gpus: [{ index: 0, name: 'H100', memoryTotalMb: 81920, memoryUsedMb: 20480, utilization: 0.63 }],
              cpuSlots: 1,
              lastSeenAt: at,
            },
            { agentId: 'vast-77', provider: 'vast', host: 'c77', status: 'alive', gpus: [], cpuSlots: 2, lastSeenAt: at },
          ],
          leases: [
            { leaseId: 'l1', jobId: 'r-BTCUSDT', runId: 'r', symbol: 'BTCUSDT', agentId: 'gpu-box', device: 'gpu:0', gpuMemoryGb: 10, pricePerHour: 0.5, status: 'running', startedAt: at },
            { leaseId: 'l2', jobId: 'r-ETHUSDT', runId: 'r', symbol: 'ETHUSDT', agentId: 'vast-77', device: 'cpu', gpuMemoryGb: 0, pricePerHour: 0.36, status: 'assigned', startedAt: null },
          ],
          instances: [{ instanceId: 77, gpuName: 'RTX 4090', numGpus: 1, pricePerHour: 0.36, status: 'ready', agentId: 'vast-77', createdAt: at }],
        })),
      );
      expect((await say(GROUP, VIEWER, '/gpus')).text).toBe(
        [
          '🖥 GPUs and slots: 2 agents · 2 jobs holding a slot · $0.86/h charged',
          '• gpu-box (local): GPU0 H100 20/80 GB · 63% — BTCUSDT (GPU0 10 GB, running)',
          '• vast-77 (vast): 2 CPU slots — ETHUSDT (cpu, assigned)',
          'Rented: 1 instance',
          '☁️ #77 RTX 4090 ×1 · $0.36/h · ready',
        ].join('\n'),
      );
    } finally {
      for (const s of subs) await s.drain();
    }
  });

  it("/models lists a symbol's versions and attaches a PNG chart of their metrics", async () => {
    const sub = await services.answer('models.versions', async ({ symbol }) => ({
      symbol,
      total: 3,
      versions: [version(3, 'candidate', 0.9), version(2, 'production', 1.1), version(1, 'archived', 0.4)],
    }));
    try {
      const { replies, text } = await say(OPERATOR.id, OPERATOR, '/models btcusdt', 2);
      expect(text.split('\n').slice(0, 4)).toEqual([
        '🧠 BTCUSDT — 3 versions, newest first',
        '⚪ v3 candidate · Sharpe 0.90 · hit 53.0% · rejected (lower_hit_rate) · 2026-11-23',
        '🟢 v2 production · Sharpe 1.10 · hit 52.0% · promoted (higher_hit_rate) · 2026-11-22',
        '⚫ v1 archived · Sharpe 0.40 · hit 51.0% · rejected (lower_hit_rate) · 2026-11-21',
      ]);
      const photo = replies[1];
      expect(photo?.method).toBe('sendPhoto');
      expect(photo?.photo?.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
      expect(photo?.photo?.readUInt32BE(16)).toBe(800);
      expect(photo?.photo?.length).toBeGreaterThan(5_000);
    } finally {
      await sub.drain();
    }
  });

  it('/study shows where a study stands, its best params and what mattered, with a chart of its history', async () => {
    const sub = await services.answer('studies.find', async ({ id }) =>
      id === 'study-btc-1'
        ? {
            study: {
              id,
              symbol: 'BTCUSDT',
              status: 'running',
              objective: 'sharpe',
              direction: 'maximize',
              sampler: 'tpe',
              pruner: 'median',
              trialsPlanned: 40,
              trials: { running: 4, complete: 12, pruned: 3, failed: 1 },
              best: { trial: 9, value: 1.23456, params: { 'model.learningRate': 0.0123456789, 'model.epochs': 30 } },
              history: [
                { trial: 0, value: 0.5, best: 0.5 },
                { trial: 1, value: 0.9, best: 0.9 },
                { trial: 9, value: 1.23456, best: 1.23456 },
              ],
              importance: { 'model.learningRate': 0.8, 'model.epochs': 0.2 },
            },
          }
        : { study: null },
    );
    try {
      const { replies, text } = await say(GROUP, VIEWER, '/study study-btc-1', 2);
      expect(text.split('\n')).toEqual([
        '🔬 Study study-btc-1 · BTCUSDT · running · 16/40 trials (12 complete, 3 pruned, 1 failed, 4 running) · tpe sampler, median pruner',
        'Best: trial #9, sharpe 1.2346 (maximize) · model.learningRate=0.0123457, model.epochs=30',
        'What mattered: model.learningRate 80% · model.epochs 20%',
        '📈 study-btc-1: sharpe by trial, best so far',
      ]);
      expect(replies[1]?.method).toBe('sendPhoto');
      expect((await say(GROUP, VIEWER, '/study nope')).text).toBe('⚠️ No study nope.');
      expect((await say(GROUP, VIEWER, '/study ../x')).text).toMatch(/name the study/);
    } finally {
      await sub.drain();
    }
  });

  it('cancels a run or a job by command and replies with what the scheduler did', async () => {
    const sub = await services.answer('runs.find', async ({ id }) =>
      id === 'daily-20261122'
        ? { run: run(id), job: null }
        : id === 'daily-20261122-SOLUSDT'
          ? {
              run: null,
              job: { jobId: id, runId: 'daily-20261122', symbol: 'SOLUSDT', status: 'running', attempt: 1, maxAttempts: 3, errorType: null, errorMessage: null, promote: 'off', canary: false },
            }
          : { run: null, job: null },
    );
    try {
      const job = await say(GROUP, OPERATOR, '/cancel daily-20261122-SOLUSDT stuck for hours');
      expect(job.text).toBe('⏳ Asked the scheduler to cancel job daily-20261122-SOLUSDT (running).');
      const [cancel] = await published('job.*.cancel');
      expect(cancel).toMatchObject({ jobId: 'daily-20261122-SOLUSDT', reason: 'stuck for hours', requestedBy: 'telegram:42 (@olga)' });
      await services.publish('command.result', { commandId: cancel.id, command: 'job.cancel', ok: true, message: 'job daily-20261122-SOLUSDT was running: its agent is stopping it' });
      const outcome = await waitFor(() => tg.sentTo(GROUP, job.messageId)[1], 'the outcome as a reply');
      expect(htmlToText(outcome.text!)).toBe('✅ job daily-20261122-SOLUSDT was running: its agent is stopping it');

      const whole = await say(GROUP, OPERATOR, '/cancel daily-20261122');
      expect(whole.text).toBe('⏳ Asked the scheduler to cancel run daily-20261122 (running).');
      const [cancelRun] = await published('run.cancel');
      expect(cancelRun).toMatchObject({ runId: 'daily-20261122', reason: 'cancelled from Telegram by telegram:42 (@olga)' });
      await services.publish('command.result', { commandId: cancelRun.id, command: 'run.cancel', ok: false, message: 'no run daily-20261122' });
      // Delivered twice, answered once.
      await services.publish('command.result', { commandId: cancelRun.id, command: 'run.cancel', ok: false, message: 'no run daily-20261122' });
      await waitFor(() => tg.sentTo(GROUP, whole.messageId).length === 2, 'the refusal');
      expect(htmlToText(tg.sentTo(GROUP, whole.messageId)[1]!.text!)).toBe('⚠️ no run daily-20261122');

      expect((await say(GROUP, OPERATOR, '/cancel nothing-here')).text).toBe('⚠️ No run or job nothing-here.');
      expect(tg.sentTo(GROUP, whole.messageId)).toHaveLength(2);
    } finally {
      await sub.drain();
    }
  });

  it('sends /retry, /promote and /rollback to their services as commands', async () => {
    expect((await say(GROUP, OPERATOR, '/retry daily-20261122-XRPUSDT')).text).toBe('⏳ Asked the scheduler to retry daily-20261122-XRPUSDT.');
    expect((await say(GROUP, OPERATOR, '/promote ethusdt v4')).text).toBe('⏳ Asked the promoter to put ETHUSDT v4 into production.');
    expect((await say(GROUP, OPERATOR, '/rollback ETHUSDT')).text).toBe('⏳ Asked the promoter to roll ETHUSDT back.');
    expect(await published('job.retry')).toEqual([expect.objectContaining({ jobId: 'daily-20261122-XRPUSDT', requestedBy: 'telegram:42 (@olga)' })]);
    expect(await published('model.promote')).toEqual([expect.objectContaining({ symbol: 'ETHUSDT', version: 4 })]);
    expect(await published('model.rollback')).toEqual([expect.not.objectContaining({ version: expect.anything() })]);
    // A regime specialist has its own production: SYMBOL/variant.
    expect((await say(GROUP, OPERATOR, '/rollback ethusdt/Bull')).text).toBe('⏳ Asked the promoter to roll ETHUSDT/bull back.');
    expect((await published('model.rollback')).at(-1)).toMatchObject({ symbol: 'ETHUSDT', variant: 'bull' });
    expect((await say(GROUP, OPERATOR, '/promote ETHUSDT/moon 2')).text).toBe(
      '⚠️ "ETHUSDT/moon" is neither a symbol (e.g. BTCUSDT) nor a symbol and a variant (BTCUSDT/bull, BTCUSDT/bear, BTCUSDT/sideways)\nusage: /promote <symbol>[/variant] <version>',
    );
  });

  it('says what is wrong with a bad command', async () => {
    const cases: [string, string][] = [
      ['/frobnicate now', 'Unknown command /frobnicate. /help lists what I understand.'],
      ['/promote BTCUSDT', '⚠️ name the version to promote, e.g. /promote BTCUSDT 3\nusage: /promote <symbol>[/variant] <version>'],
      [
        '/promote BTC/USDT 2',
        '⚠️ "BTC/USDT" is neither a symbol (e.g. BTCUSDT) nor a symbol and a variant (BTCUSDT/bull, BTCUSDT/bear, BTCUSDT/sideways)\nusage: /promote <symbol>[/variant] <version>',
      ],
      ['/run BTCUSDT --mode turbo', '⚠️ --mode must be one of sequential, parallel, hybrid (got "turbo")\nusage: /run <symbols|topN> [flags]'],
      ['/run --promote auto', '⚠️ name the symbols: a list (BTCUSDT,ETHUSDT) or topN (top10)\nusage: /run <symbols|topN> [flags]'],
      ['/run BTCUSDT --variants bull,crab', '⚠️ --variants: "crab" is not a variant; each must be one of default, bull, bear, sideways\nusage: /run <symbols|topN> [flags]'],
      [
        '/run BTCUSDT --colour red',
        '⚠️ unknown flag --colour; allowed: --mode, --max-concurrent, --date, --dry-run, --force, --ensure-features, --promote, --canary, --live, --priority, --purpose, --timeout-minutes, --run-id, --featureset, --lookback-candles, --timeframe, --driver, --trainer, --trainer-arg, --gpu-memory-gb, --variants\nusage: /run <symbols|topN> [flags]',
      ],
      ['/models', '⚠️ name a symbol, e.g. BTCUSDT\nusage: /models <symbol>'],
    ];
    for (const [command, answer] of cases) expect((await say(GROUP, OPERATOR, command)).text).toBe(answer);
    expect((await published('run.requested')).length).toBe(1);
  });

  it("waits out Telegram's 429 before replying", async () => {
    tg.rateLimitNext(1, 1);
    const started = Date.now();
    await say(GROUP, VIEWER, '/help');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
