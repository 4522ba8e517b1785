import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage as HttpRequest, type Server, type ServerResponse } from 'node:http';
import { Logger } from '@nestjs/common';
import { Telegraf, TelegramError } from 'telegraf';
import { withRetryAfter } from './retry-after';
import { TelegramSendError, type IncomingMessage, type SendOptions, type TelegramClient } from './telegram-client';
import { readWebhookUpdate } from './webhook-update';

export interface TelegrafClientOptions {
  token: string;
  /** Bot API base URL: https://api.telegram.org, or a test server's. */
  apiRoot: string;
  maxRetries: number;
  maxRetryAfterSeconds: number;
  /** Wait before polling again after Telegram refused it (409: another process polls this bot). */
  repollMs?: number;
  /** Updates by webhook instead of long polling: the public URL Telegram posts to, and where this process listens for it. */
  webhook?: { url: string; host: string; port: number };
}

const retryAfterOf = (err: unknown) => (err instanceof TelegramError && err.code === 429 ? (err.parameters?.retry_after ?? 1) : undefined);

/**
 * The TelegramClient on telegraf: the same code against api.telegram.org and a test server. Sends
 * go out one at a time (after a 429 every send waits, as Telegram's flood control applies to the
 * whole bot), and every error leaves here with the token scrubbed.
 */
export class TelegrafClient implements TelegramClient {
  private readonly log = new Logger('Telegram');
  private readonly bot: Telegraf;
  private sending: Promise<unknown> = Promise.resolve();
  private polling?: Promise<void>;
  private repoll?: NodeJS.Timeout;
  private stopping = false;
  private webhookServer?: Server;

  constructor(private readonly o: TelegrafClientOptions) {
    this.bot = new Telegraf(o.token, { telegram: { apiRoot: o.apiRoot } });
    this.bot.catch((err) => this.log.error(`an update failed: ${this.scrub(err)}`));
  }

  get botUsername(): string | null {
    return this.bot.botInfo?.username ?? null;
  }

  sendMessage(chatId: string, html: string, options: SendOptions = {}): Promise<void> {
    const reply = options.replyTo ? { reply_parameters: { message_id: options.replyTo, allow_sending_without_reply: true } } : {};
    return this.send('sendMessage', chatId, () => this.bot.telegram.sendMessage(chatId, html, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, ...reply }));
  }

  sendPhoto(chatId: string, png: Buffer, captionHtml: string, options: SendOptions = {}): Promise<void> {
    // A multipart form carries objects as JSON strings (telegraf drops a plain object that is not a file).
    const reply = options.replyTo ? { reply_parameters: JSON.stringify({ message_id: options.replyTo, allow_sending_without_reply: true }) as never } : {};
    return this.send('sendPhoto', chatId, () => this.bot.telegram.sendPhoto(chatId, { source: png, filename: 'chart.png' }, { caption: captionHtml, parse_mode: 'HTML', ...reply }));
  }

  async startReceiving(onMessage: (message: IncomingMessage) => Promise<void>): Promise<void> {
    this.bot.on('message', (ctx) => {
      const m = ctx.message;
      if (typeof m !== 'object' || m === null || !('text' in m) || typeof m.text !== 'string') return;
      const message: IncomingMessage = {
        chatId: String(m.chat.id),
        userId: m.from ? String(m.from.id) : null,
        username: m.from?.username ?? null,
        messageId: m.message_id,
        text: m.text,
      };
      // Not awaited: a slow answer must not hold back the next updates.
      void onMessage(message).catch((err) => this.log.error(`a message failed: ${this.scrub(err)}`));
    });
    if (this.o.webhook) await this.listen(this.o.webhook);
    else this.launch();
  }

  /**
   * Serves the webhook on its own port (behind the HTTPS proxy Telegram needs) and registers it with
   * a secret token made for this process, so posts that do not come from Telegram are refused. Each
   * post is checked here (secret, size, JSON, the update's shape) before telegraf handles it.
   */
  private async listen(webhook: NonNullable<TelegrafClientOptions['webhook']>): Promise<void> {
    const secret = randomBytes(32).toString('hex');
    this.bot.botInfo ??= await this.bot.telegram.getMe();
    const path = new URL(webhook.url).pathname;
    this.webhookServer = createServer((req, res) => void this.onPost(req, res, path, secret));
    await new Promise<void>((resolve, reject) => {
      this.webhookServer!.once('error', reject);
      this.webhookServer!.listen(webhook.port, webhook.host, () => resolve());
    });
    await this.bot.telegram.setWebhook(webhook.url, { allowed_updates: ['message'], secret_token: secret });
    this.log.log(`answering commands as @${this.bot.botInfo.username} (webhook ${new URL(webhook.url).origin}${path})`);
  }

  private async onPost(req: HttpRequest, res: ServerResponse, path: string, secret: string): Promise<void> {
    const answer = (status: number, text: string) => {
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: status === 413 ? 'close' : 'keep-alive' });
      res.end(text);
    };
    try {
      const read = await readWebhookUpdate(req, path, secret);
      if ('status' in read) {
        this.log.warn(`webhook post refused (${read.status}): ${read.message}`);
        return answer(read.status, read.message);
      }
      // An update that fails inside the bot is logged (bot.catch) and still acknowledged: Telegram
      // would otherwise deliver it again and again.
      await this.bot.handleUpdate(read.update as never).catch((err) => this.log.error(`an update failed: ${this.scrub(err)}`));
      answer(200, 'ok');
    } catch (err) {
      this.log.error(`webhook post failed: ${this.scrub(err)}`);
      answer(400, 'bad request');
    }
  }

  private launch(): void {
    this.polling = this.bot
      .launch({ allowedUpdates: ['message'] }, () => this.log.log(`answering commands as @${this.bot.botInfo?.username} (long polling)`))
      .catch((err) => {
        if (this.stopping) return;
        const again = this.o.repollMs ?? 30_000;
        this.log.error(`polling stopped: ${this.scrub(err)}; trying again in ${Math.round(again / 1000)} s`);
        this.repoll = setTimeout(() => this.launch(), again);
      });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.repoll);
    // The webhook stays registered: Telegram keeps the updates until this process is back.
    await new Promise<void>((resolve) => (this.webhookServer ? this.webhookServer.close(() => resolve()) : resolve()));
    try {
      this.bot.stop('shutdown');
    } catch {
      // Not polling: nothing to stop.
    }
    await this.polling;
    await this.sending.catch(() => undefined);
  }

  private send(method: string, chatId: string, call: () => Promise<unknown>): Promise<void> {
    const attempt = () =>
      withRetryAfter(call, retryAfterOf, {
        maxRetries: this.o.maxRetries,
        maxWaitSeconds: this.o.maxRetryAfterSeconds,
        onWait: (seconds, retry) => this.log.warn(`Telegram asks to slow down: ${method} to chat ${chatId} again in ${seconds} s (retry ${retry} of ${this.o.maxRetries})`),
      }).then(
        () => undefined,
        (err: unknown) => {
          throw new TelegramSendError(`${method} to chat ${chatId} failed: ${this.scrub(err)}`, err instanceof TelegramError ? err.code : 0);
        },
      );
    const done = this.sending.then(attempt, attempt);
    this.sending = done.catch(() => undefined);
    return done;
  }

  /** The token is part of every Bot API URL, so network errors can carry it: it never leaves this class. */
  private scrub(err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    const secret = this.o.token.slice(this.o.token.indexOf(':') + 1);
    return text.replaceAll(this.o.token, '<token>').replaceAll(secret, '<token>');
  }
}
