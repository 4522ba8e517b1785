import { Telegraf, TelegramError } from 'telegraf';
import { startTelegramTestServer, type TelegramTestServer } from './telegram-test-server';
import { waitFor } from './wait-for';

const PNG_1X1 = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201ffa00f5d0000000049454e44ae426082', 'hex');

describe('Telegram Bot API test server', () => {
  let tg: TelegramTestServer;
  let bot: Telegraf;

  beforeEach(async () => {
    tg = await startTelegramTestServer();
    bot = new Telegraf(tg.token, { telegram: { apiRoot: tg.url } });
  });

  afterEach(async () => {
    await tg.close();
  });

  const call = async (method: string, init?: RequestInit, token = tg.token) => {
    const res = await fetch(`${tg.url}/bot${token}/${method}`, init);
    return { status: res.status, body: (await res.json()) as any };
  };

  it("answers telegraf's getMe and sendMessage (JSON), and a form-encoded sendMessage, with the API's shapes", async () => {
    expect(await bot.telegram.getMe()).toMatchObject({ id: 123456789, is_bot: true, username: 'trainyard_test_bot' });
    const sent = await bot.telegram.sendMessage(42, '<b>Run</b> done &amp; dusted', { parse_mode: 'HTML', reply_parameters: { message_id: 7 } });
    expect(sent).toMatchObject({ message_id: 1, chat: { id: 42, type: 'private' }, text: 'Run done & dusted' });
    const form = await call('sendMessage', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'chat_id=-100&text=hello&reply_to_message_id=3' });
    expect(form).toMatchObject({ status: 200, body: { ok: true, result: { message_id: 1, chat: { id: -100, type: 'group' } } } });
    expect(tg.sent.map((s) => [s.chatId, s.text, s.replyTo])).toEqual([
      ['42', '<b>Run</b> done &amp; dusted', 7],
      ['-100', 'hello', 3],
    ]);
  });

  it('takes a photo upload as multipart/form-data and answers with its size', async () => {
    const msg = await bot.telegram.sendPhoto(42, { source: PNG_1X1, filename: 'chart.png' }, { caption: '<i>equity</i>', parse_mode: 'HTML' });
    expect(msg).toMatchObject({ caption: 'equity', photo: [{ width: 1, height: 1, file_size: PNG_1X1.length }] });
    expect(tg.sent[0]).toMatchObject({ method: 'sendPhoto', chatId: '42', caption: '<i>equity</i>' });
    expect(tg.sent[0]?.photo?.equals(PNG_1X1)).toBe(true);
    await expect(bot.telegram.sendPhoto(42, { source: Buffer.from('not an image') })).rejects.toThrow('400: Bad Request: IMAGE_PROCESS_FAILED');
  });

  it('refuses what Telegram refuses: another token, unknown methods, bad HTML, over-long text', async () => {
    expect(await call('getMe', undefined, '1:wrong')).toEqual({ status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } });
    expect((await call('sendSticker')).status).toBe(404);
    await expect(bot.telegram.sendMessage(42, '<script>x</script>', { parse_mode: 'HTML' })).rejects.toThrow(/Unsupported start tag "script"/);
    await expect(bot.telegram.sendMessage(42, '<b>bold', { parse_mode: 'HTML' })).rejects.toThrow(/Can't find end tag corresponding to start tag "b"/);
    await expect(bot.telegram.sendMessage(42, 'a < b', { parse_mode: 'HTML' })).rejects.toThrow(/Unexpected character '<'/);
    await expect(bot.telegram.sendMessage(42, 'x'.repeat(4097))).rejects.toThrow('400: Bad Request: message is too long');
    expect(tg.sent).toEqual([]);
  });

  it('answers the next sends with 429 and retry_after when told to', async () => {
    tg.rateLimitNext(1, 3);
    const error = await bot.telegram.sendMessage(42, 'hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TelegramError);
    expect(error).toMatchObject({ code: 429, parameters: { retry_after: 3 } });
    await expect(bot.telegram.sendMessage(42, 'hi')).resolves.toMatchObject({ text: 'hi' });
  });

  it('long-polls getUpdates: waits for a message, confirms by offset, filters by allowed_updates', async () => {
    const started = Date.now();
    const waiting = bot.telegram.callApi('getUpdates', { timeout: 5, offset: 0, allowed_updates: ['message'] });
    setTimeout(() => tg.userSays({ chatId: 42, from: { id: 42, username: 'alice' }, text: '/status@trainyard_test_bot now' }), 200);
    const updates = await waiting;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(updates).toEqual([
      expect.objectContaining({
        message: expect.objectContaining({
          text: '/status@trainyard_test_bot now',
          from: expect.objectContaining({ id: 42, username: 'alice' }),
          entities: [{ type: 'bot_command', offset: 0, length: 26 }],
        }),
      }),
    ]);
    const next = await bot.telegram.callApi('getUpdates', { offset: updates[0]!.update_id + 1, timeout: 0 });
    expect(next).toEqual([]);
    expect((await call('getWebhookInfo')).body.result).toMatchObject({ url: '', pending_update_count: 0 });
  });

  it('hands updates to telegraf polling, and refuses getUpdates while a webhook is set', async () => {
    const seen: string[] = [];
    bot.on('message', (ctx) => {
      if ('text' in ctx.message) seen.push(ctx.message.text);
    });
    tg.userSays({ chatId: -5, from: { id: 7 }, text: 'before launch' });
    const launched = bot.launch();
    tg.userSays({ chatId: -5, from: { id: 7 }, text: '/help' });
    await waitFor(() => seen.length === 2, 'both messages handled');
    bot.stop('test over');
    await launched;
    expect(seen).toEqual(['before launch', '/help']);
    expect(tg.calls.map((c) => c.method)).toEqual(expect.arrayContaining(['getMe', 'deleteWebhook', 'getUpdates']));

    await bot.telegram.setWebhook('http://127.0.0.1:9/hook');
    await expect(bot.telegram.callApi('getUpdates', {})).rejects.toMatchObject({ code: 409 });
    await bot.telegram.deleteWebhook({ drop_pending_updates: true });
    await expect(bot.telegram.callApi('getUpdates', {})).resolves.toEqual([]);
  });
});
