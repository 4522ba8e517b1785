import { createServer, type AddressInfo } from 'node:net';
import { startTelegramTestServer, waitFor, type TelegramTestServer } from '@trainyard/testing';
import { TelegrafClient } from './telegraf-client';
import type { IncomingMessage } from './telegram-client';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** Taking users' messages by webhook, against the Bot API test server, which posts updates as Telegram does. */
describe('TelegrafClient by webhook', () => {
  let tg: TelegramTestServer;
  let client: TelegrafClient;
  let url: string;
  const received: IncomingMessage[] = [];

  beforeAll(async () => {
    tg = await startTelegramTestServer();
    const port = await freePort();
    url = `http://127.0.0.1:${port}/telegram/updates`;
    client = new TelegrafClient({ token: tg.token, apiRoot: tg.url, maxRetries: 0, maxRetryAfterSeconds: 1, webhook: { url, host: '127.0.0.1', port } });
    await client.startReceiving(async (m) => void received.push(m));
  });

  afterAll(async () => {
    await client.stop();
    await tg.close();
  });

  it('registers the webhook with a secret and takes the messages Telegram posts to it', async () => {
    const set = tg.calls.find((c) => c.method === 'setWebhook');
    expect(set?.params).toMatchObject({ url, allowed_updates: ['message'], secret_token: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(tg.calls.some((c) => c.method === 'getUpdates')).toBe(false);
    tg.userSays({ chatId: 42, from: { id: 42, username: 'ops' }, text: '/status' });
    await waitFor(async () => received.length === 1, 'the update delivered by webhook');
    expect(received[0]).toMatchObject({ chatId: '42', userId: '42', username: 'ops', text: '/status' });
  });

  it('refuses a post that does not carry the secret', async () => {
    const forged = { update_id: 1, message: { message_id: 9, date: 0, chat: { id: 7, type: 'private' }, from: { id: 7, is_bot: false, first_name: 'x' }, text: '/run BTCUSDT' } };
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) });
    expect(res.status).toBe(403);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.map((m) => m.text)).not.toContain('/run BTCUSDT');
  });

  it('refuses, without crashing or handing it to the bot, a post with the secret that is not a Telegram update', async () => {
    const secret = String(tg.calls.find((c) => c.method === 'setWebhook')!.params.secret_token);
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret, ...headers }, body }).then(async (r) => ({
        status: r.status,
        text: await r.text(),
      }));
    const message = { message_id: 3, date: 0, chat: { id: 7, type: 'private' }, from: { id: 7, is_bot: false, first_name: 'x' }, text: '/status' };
    for (const body of [
      'null',
      '{',
      '[]',
      '"x"',
      '{"update_id":"x","message":5}',
      JSON.stringify({ update_id: 5, message: 5 }),
      JSON.stringify({ update_id: 6, message: { ...message, chat: { id: { $gt: 0 } } } }),
      JSON.stringify({ update_id: 7, message: { ...message, text: 42 } }),
    ]) {
      const answer = await post(body);
      expect(answer.status).toBe(400);
      expect(answer.text).not.toMatch(/at .*\.js|node_modules/);
    }
    expect((await post(JSON.stringify({ update_id: 8, message: { ...message, text: `/run ${'B'.repeat(100_000)}` } }))).status).toBe(413);
    // Still sending when refused: the sender gets the 413, not a reset connection (fuzz seed 100000).
    for (let i = 0; i < 5; i++) expect((await post(JSON.stringify({ update_id: 20 + i, message: { ...message, text: 'C'.repeat(2_000_000) } }))).status).toBe(413);
    expect((await post(JSON.stringify({ update_id: 9, message }), { 'x-telegram-bot-api-secret-token': secret.replace(/.$/, 'x') })).status).toBe(403);
    expect((await fetch(url.replace('/telegram/updates', '/other'), { method: 'POST', body: '{}' })).status).toBe(404);
    // Still serving: a real update after all of that is delivered.
    const before = received.length;
    expect((await post(JSON.stringify({ update_id: 10, message: { ...message, text: '/help' } }))).status).toBe(200);
    await waitFor(() => received.length === before + 1, 'the good update after the bad ones');
    expect(received.at(-1)).toMatchObject({ chatId: '7', text: '/help' });
  });
});
