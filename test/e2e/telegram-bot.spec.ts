import { startTelegramTestServer, waitFor, type TelegramTestServer } from '@trainyard/testing';
import { htmlToText } from '../../apps/notifier/src/alerts/html';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(180_000);

const CHAT = -1001234;
const OPERATOR = { id: 4242, username: 'ops' };

const text = (html: string | undefined) => htmlToText(html ?? '');

/** The five services as processes with the notifier's bot on telegraf, against the Bot API test server. */
describe('operating Trainyard from Telegram (real NATS and PostgreSQL)', () => {
  const sut = new SystemUnderTest();
  let tg: TelegramTestServer;

  beforeAll(async () => {
    tg = await startTelegramTestServer();
    await sut.start({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_URL: tg.url,
      TELEGRAM_CHAT_IDS: String(CHAT),
      TELEGRAM_OPERATOR_IDS: String(OPERATOR.id),
      NOTIFIER_DIGEST_SECONDS: '1',
    });
  });

  afterAll(async () => {
    await sut.stop();
    await tg?.close();
  });

  it("an operator's /run starts a real run over the bus; the bot replies with the plan, and the run's report follows", async () => {
    const update = tg.userSays({ chatId: CHAT, from: OPERATOR, text: '/run BTCUSDT,ETHUSDT --promote auto --date 2026-11-21' });
    const messageId = (update.message as { message_id: number }).message_id;

    const ack = await waitFor(() => tg.sentTo(CHAT, messageId)[0], 'the reply to /run', 30_000);
    const runId = /Run (tg-\d{14}-[0-9a-f]{6}) requested/.exec(text(ack.text))?.[1];
    expect(runId).toBeDefined();

    const [request] = (await sut.events('run.requested')).map((e) => e.data).filter((d) => d.runId === runId);
    expect(request).toMatchObject({ trigger: 'telegram', symbols: ['BTCUSDT', 'ETHUSDT'], promote: 'auto', date: '2026-11-21', requestedBy: 'telegram:4242 (@ops)' });

    const plan = await waitFor(() => tg.sentTo(CHAT, messageId)[1], 'the plan as a reply', 30_000);
    expect(text(plan.text)).toMatch(new RegExp(`^📋 Run ${runId} planned: 2 jobs for 2026-11-21\\norder: (BTCUSDT, ETHUSDT|ETHUSDT, BTCUSDT)`));

    const completed = await sut.completion(runId!);
    expect(completed.status).toBe('succeeded');
    expect(completed.summary).toMatchObject({ total_symbols: 2, succeeded: 2 });

    const started = await waitFor(() => tg.sentTo(CHAT).find((s) => text(s.text).startsWith(`▶️ Run ${runId} started`)), 'the run-started alert', 30_000);
    expect(text(started.text)).toMatch(/2 symbols\n2026-11-21 · telegram · hybrid/);
    const report = await waitFor(() => tg.sentTo(CHAT).find((s) => text(s.text).startsWith(`✅ Run ${runId} succeeded`)), 'the run report', 60_000);
    expect(text(report.text)).toMatch(/2\/2 symbols/);
    expect(text(report.text)).toMatch(/🚀 Promoted \(2\): BTCUSDT v1, ETHUSDT v1/);
    // The built-in trainer writes equity.json beside metrics.json: the report's chart draws both curves.
    const chart = await waitFor(() => tg.sentTo(CHAT).find((s) => s.method === 'sendPhoto' && text(s.caption).includes(runId!)), 'the equity chart', 30_000);
    expect(chart.photo!.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(text(chart.caption)).toMatch(/equity after costs, promoted candidates against production — BTCUSDT v1, ETHUSDT v1$/);

    // The bot reads the scheduler over NATS request/reply.
    const status = tg.userSays({ chatId: CHAT, from: OPERATOR, text: '/runs' });
    const runs = await waitFor(() => tg.sentTo(CHAT, (status.message as { message_id: number }).message_id)[0], 'the reply to /runs', 30_000);
    expect(text(runs.text)).toMatch(new RegExp(`✅ ${runId} 2026-11-21 · telegram — 2/2 done`));
  });
});
