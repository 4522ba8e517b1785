import { Logger } from '@nestjs/common';
import { startTelegramTestServer, type TelegramTestServer } from '@trainyard/testing';
import { TelegrafClient } from '../telegram/telegraf-client';
import { TelegramNotifier } from './telegram.notifier';

const PNG_1X1 = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201ffa00f5d0000000049454e44ae426082', 'hex');

/** TelegramNotifier on telegraf against the Bot API test server: what reaches Telegram, and what happens when it refuses. */
describe('TelegramNotifier (telegraf against the Bot API test server)', () => {
  let tg: TelegramTestServer;
  let client: TelegrafClient;
  const warnings: string[] = [];

  beforeAll(() => {
    Logger.overrideLogger({ log: () => undefined, error: () => undefined, warn: (m: unknown) => void warnings.push(String(m)), debug: () => undefined, verbose: () => undefined });
  });

  afterAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    tg = await startTelegramTestServer();
    client = new TelegrafClient({ token: tg.token, apiRoot: tg.url, maxRetries: 2, maxRetryAfterSeconds: 2 });
    warnings.length = 0;
  });

  afterEach(async () => {
    await client.stop();
    await tg.close();
  });

  it('sends the HTML message and the picture to every chat', async () => {
    const notifier = new TelegramNotifier(client, ['111', '-222']);
    await notifier.send('✅ <b>Run daily-20261122 succeeded</b>');
    await notifier.sendPhoto(PNG_1X1, '📈 <b>equity</b>');
    expect(tg.sent.map((s) => [s.method, s.chatId, s.text ?? s.caption, s.parseMode])).toEqual([
      ['sendMessage', '111', '✅ <b>Run daily-20261122 succeeded</b>', 'HTML'],
      ['sendMessage', '-222', '✅ <b>Run daily-20261122 succeeded</b>', 'HTML'],
      ['sendPhoto', '111', '📈 <b>equity</b>', 'HTML'],
      ['sendPhoto', '-222', '📈 <b>equity</b>', 'HTML'],
    ]);
    expect(tg.sent[2]?.photo?.equals(PNG_1X1)).toBe(true);
    expect(notifier.channel).toBe('Telegram (2 chats)');
  });

  it("waits out Telegram's retry_after on a 429, then sends", async () => {
    tg.rateLimitNext(2, 1);
    const started = Date.now();
    await new TelegramNotifier(client, ['111']).send('after the flood');
    const attempts = tg.calls.filter((c) => c.method === 'sendMessage');
    expect(attempts.map((c) => c.status)).toEqual([429, 429, 200]);
    // Three attempts, as the statuses above show.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(tg.sent.map((s) => s.text)).toEqual(['after the flood']);
    expect(warnings.join('\n')).toMatch(/Telegram asks to slow down: sendMessage to chat 111 again in 1 s \(retry 1 of 2\)/);
  });

  it('gives up after its bounded retries, or at once when retry_after is too long, so the event comes back later', async () => {
    tg.rateLimitNext(3, 1);
    await expect(new TelegramNotifier(client, ['111']).send('hello')).rejects.toThrow(/sendMessage to chat 111 failed: 429: Too Many Requests: retry after 1/);
    tg.rateLimitNext(1, 30);
    const started = Date.now();
    await expect(new TelegramNotifier(client, ['111']).sendPhoto(PNG_1X1, 'chart')).rejects.toThrow(/sendPhoto to chat 111 failed: 429/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('skips a chat that refuses the message and still sends to the others', async () => {
    await new TelegramNotifier(client, ['not-a-chat', '222']).send('hello');
    expect(tg.sent.map((s) => s.chatId)).toEqual(['222']);
    expect(warnings.join('\n')).toMatch(/chat not-a-chat refused: sendMessage to chat not-a-chat failed: 400: Bad Request: chat not found/);
  });

  it('keeps the token out of errors and logs, for a wrong token and for a network error', async () => {
    const wrong = new TelegrafClient({ token: '999:wrong-secret-token', apiRoot: tg.url, maxRetries: 0, maxRetryAfterSeconds: 1 });
    const refused = await new TelegramNotifier(wrong, ['111']).send('hello').catch((e: Error) => e);
    expect((refused as Error).message).toMatch(/401: Unauthorized/);
    const secret = tg.token.split(':')[1];
    const down = new TelegrafClient({ token: tg.token, apiRoot: 'http://127.0.0.1:1', maxRetries: 0, maxRetryAfterSeconds: 1 });
    const network = await new TelegramNotifier(down, ['111']).send('hello').catch((e: Error) => e);
    expect((network as Error).message).toMatch(/sendMessage to chat 111 failed: .*ECONNREFUSED/);
    for (const text of [(refused as Error).message, (network as Error).message, ...warnings]) {
      expect(text).not.toContain('wrong-secret-token');
      expect(text).not.toContain(secret);
    }
  });
});
