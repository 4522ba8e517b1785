import { Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelegramNotifier } from './telegram.notifier';

const TOKEN = '123456:secret-token';

interface Call {
  url: string;
  body: { chat_id: string; text: string; parse_mode: string };
}

const readBody = async (req: IncomingMessage) => {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return JSON.parse(raw);
};

describe('TelegramNotifier (against a stand-in Bot API)', () => {
  let server: Server;
  let apiRoot: string;
  const calls: Call[] = [];
  /** What the stand-in answers for a chat: 200 unless listed. */
  const answers = new Map<string, number>();

  beforeAll(async () => {
    // The refused-chat case logs a warning by design.
    Logger.overrideLogger(false);
    server = createServer(async (req, res) => {
      const body = await readBody(req);
      calls.push({ url: req.url ?? '', body });
      const status = answers.get(body.chat_id) ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200
            ? { ok: true, result: { message_id: calls.length, date: 0, chat: { id: Number(body.chat_id), type: 'private' }, text: body.text } }
            : { ok: false, error_code: status, description: status === 400 ? 'Bad Request: chat not found' : 'Internal Server Error' },
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  beforeEach(() => {
    calls.length = 0;
    answers.clear();
  });

  it('sends the HTML message to every chat', async () => {
    const notifier = new TelegramNotifier({ token: TOKEN, chatIds: ['111', '222'], apiRoot });
    await notifier.send('✅ <b>Run daily-20261122 succeeded</b>');
    expect(calls).toEqual([
      { url: `/bot${TOKEN}/sendMessage`, body: { chat_id: '111', text: '✅ <b>Run daily-20261122 succeeded</b>', parse_mode: 'HTML' } },
      { url: `/bot${TOKEN}/sendMessage`, body: { chat_id: '222', text: '✅ <b>Run daily-20261122 succeeded</b>', parse_mode: 'HTML' } },
    ]);
    expect(notifier.channel).toBe('Telegram (2 chats)');
  });

  it('skips a chat that refuses the message and still sends to the others', async () => {
    answers.set('111', 400);
    await new TelegramNotifier({ token: TOKEN, chatIds: ['111', '222'], apiRoot }).send('hello');
    expect(calls.map((c) => c.body.chat_id)).toEqual(['111', '222']);
  });

  it('fails on a server error, so the event is retried, and names no token', async () => {
    answers.set('222', 500);
    const error = await new TelegramNotifier({ token: TOKEN, chatIds: ['111', '222'], apiRoot }).send('hello').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/failed for chat 222: 500/);
  });

  it('keeps the token out of a network error', async () => {
    const error = await new TelegramNotifier({ token: TOKEN, chatIds: ['111'], apiRoot: 'http://127.0.0.1:1' }).send('hello').catch((e: Error) => e);
    expect((error as Error).message).toMatch(/failed for chat 111/);
    expect((error as Error).message).not.toContain('secret-token');
  });
});
