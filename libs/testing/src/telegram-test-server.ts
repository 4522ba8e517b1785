import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Telegram Bot API server on loopback with the real API's routes and shapes, so that telegraf runs
 * against it unchanged (`telegram: { apiRoot: server.url }`):
 *
 * - `/bot<token>/<method>`, GET or POST, parameters in the query string, JSON, urlencoded or
 *   multipart/form-data bodies; `{ok: true, result}` or `{ok: false, error_code, description, parameters?}`;
 *   401 for another token, 404 for an unknown method;
 * - getMe; getUpdates with offset (confirming earlier updates), limit, a long-poll timeout and
 *   allowed_updates (remembered, as Telegram does), 409 while a webhook is set;
 *   setWebhook / deleteWebhook (drop_pending_updates) / getWebhookInfo, updates POSTed to the webhook;
 * - sendMessage (HTML parse mode checked as Telegram does: supported tags, balanced, entities;
 *   4096 characters after parsing) and sendPhoto (an uploaded PNG or JPEG; caption up to 1024),
 *   both with reply_parameters or reply_to_message_id;
 *
 * and for tests: inject a user's message, make the next sends answer 429 with retry_after, and read
 * what the bot sent and every call it made.
 */
export interface TelegramTestServer {
  /** The apiRoot to give the bot. */
  url: string;
  token: string;
  botUser: TelegramUser;
  /** What the bot sent, in order. */
  sent: SentToChat[];
  /** Every call, including refused ones and getUpdates. */
  calls: ApiCall[];
  /** Queues a user's message for getUpdates (or the webhook); a leading /command gets its bot_command entity. */
  userSays(message: UserMessage): TelegramUpdate;
  /** The next `count` sendMessage/sendPhoto calls answer 429 with this retry_after. */
  rateLimitNext(count: number, retryAfterSeconds: number): void;
  /** Sent to one chat, optionally only replies to one message. */
  sentTo(chatId: number | string, replyTo?: number): SentToChat[];
  close(): Promise<void>;
}

export interface TelegramUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export interface UserMessage {
  chatId: number;
  from: { id: number; username?: string; firstName?: string };
  text: string;
  /** private by default when the chat id is the user's, group otherwise. */
  chatType?: 'private' | 'group' | 'supergroup';
}

export interface TelegramUpdate {
  update_id: number;
  message?: Record<string, unknown>;
  [kind: string]: unknown;
}

export interface SentToChat {
  method: 'sendMessage' | 'sendPhoto';
  chatId: string;
  messageId: number;
  text?: string;
  caption?: string;
  parseMode?: string;
  replyTo?: number;
  photo?: Buffer;
  at: number;
}

export interface ApiCall {
  method: string;
  status: number;
  at: number;
  params: Record<string, unknown>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {
    super(description);
  }
}

const ALLOWED_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'a', 'code', 'pre', 'tg-spoiler', 'span', 'blockquote', 'tg-emoji']);
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

/** Telegram's HTML parse mode: the text as the user sees it, or the error Telegram gives. */
export function parseTelegramHtml(html: string): string {
  const open: string[] = [];
  let text = '';
  for (let i = 0; i < html.length;) {
    const c = html[i];
    if (c === '<') {
      const tag = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)>/.exec(html.slice(i));
      const at = Buffer.byteLength(html.slice(0, i));
      if (!tag) throw new ApiError(400, `Bad Request: can't parse entities: Unexpected character '<' at byte offset ${at}`);
      const [whole, closing, rawName = ''] = tag;
      const name = rawName.toLowerCase();
      if (!ALLOWED_TAGS.has(name)) throw new ApiError(400, `Bad Request: can't parse entities: Unsupported start tag "${name}" at byte offset ${at}`);
      if (closing) {
        const expected = open.pop();
        if (expected !== name) throw new ApiError(400, `Bad Request: can't parse entities: Unmatched end tag at byte offset ${at}, expected "</${expected ?? ''}>", found "</${name}>"`);
      } else {
        open.push(name);
      }
      i += whole.length;
    } else if (c === '&') {
      const entity = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/.exec(html.slice(i));
      if (!entity) throw new ApiError(400, `Bad Request: can't parse entities: Character '&' is reserved and must be escaped at byte offset ${Buffer.byteLength(html.slice(0, i))}`);
      const e = entity[1] ?? '';
      text += e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : String.fromCodePoint(e.startsWith('#x') ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
      i += entity[0].length;
    } else if (c === '>') {
      throw new ApiError(400, `Bad Request: can't parse entities: Character '>' is reserved and must be escaped at byte offset ${Buffer.byteLength(html.slice(0, i))}`);
    } else {
      text += c;
      i++;
    }
  }
  if (open.length) throw new ApiError(400, `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${open[open.length - 1]}"`);
  return text;
}

/** Width and height of a PNG (from IHDR) or a JPEG (from its first SOF marker); null when it is neither. */
function imageSize(data: Buffer): { width: number; height: number } | null {
  if (data.length > 24 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && data.toString('ascii', 12, 16) === 'IHDR') {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length > 4 && data[0] === 0xff && data[1] === 0xd8) {
    for (let i = 2; i + 9 < data.length;) {
      if (data[i] !== 0xff) return null;
      const marker = data.readUInt8(i + 1);
      const length = data.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xc3) return { width: data.readUInt16BE(i + 7), height: data.readUInt16BE(i + 5) };
      i += 2 + length;
    }
  }
  return null;
}

interface Upload {
  filename: string;
  data: Buffer;
}

/** multipart/form-data into fields and files (what telegraf's multipart stream and browsers send). */
function parseMultipart(body: Buffer, boundary: string): { fields: Record<string, string>; files: Record<string, Upload> } {
  const fields: Record<string, string> = {};
  const files: Record<string, Upload> = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const partStart = start + delimiter.length;
    if (body.subarray(partStart, partStart + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, partStart);
    if (next === -1) break;
    // Each part: CRLF, headers, CRLF CRLF, body, CRLF before the next delimiter.
    const part = body.subarray(partStart + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) {
      if (filename !== undefined) files[name] = { filename, data: Buffer.from(content) };
      else fields[name] = content.toString('utf8');
    }
    start = next;
  }
  return { fields, files };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A JSON-serialised parameter may arrive as an object (JSON bodies) or a string (forms, query strings). */
function jsonParam<T>(value: unknown): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new ApiError(400, `Bad Request: can't parse JSON object`);
  }
}

export async function startTelegramTestServer(options: { token?: string; botUsername?: string } = {}): Promise<TelegramTestServer> {
  const token = options.token ?? '123456789:AAH-test-token-not-a-real-one_abcdefgh';
  const botUser: TelegramUser = { id: Number(token.split(':')[0]) || 123456789, is_bot: true, first_name: 'Trainyard', username: options.botUsername ?? 'trainyard_test_bot' };
  const sent: SentToChat[] = [];
  const calls: ApiCall[] = [];
  const pending: TelegramUpdate[] = [];
  const waiters = new Set<() => void>();
  const messageIds = new Map<string, number>();
  let nextUpdateId = 1000;
  let allowedUpdates: string[] = [];
  let webhookUrl = '';
  let webhookSecret = '';
  let rateLimited = { count: 0, retryAfter: 0 };

  const nextMessageId = (chatId: string) => {
    const id = (messageIds.get(chatId) ?? 0) + 1;
    messageIds.set(chatId, id);
    return id;
  };
  const chatOf = (chatId: string) => (Number(chatId) < 0 ? { id: Number(chatId), type: 'group', title: `group ${chatId}` } : { id: Number(chatId), type: 'private', first_name: `user ${chatId}` });
  const kindOf = (u: TelegramUpdate) => Object.keys(u).find((k) => k !== 'update_id') ?? '';
  const deliverable = () => pending.filter((u) => allowedUpdates.length === 0 || allowedUpdates.includes(kindOf(u)));
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  async function pushToWebhook(): Promise<void> {
    while (webhookUrl && pending.length) {
      const update = pending[0];
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(webhookSecret ? { 'x-telegram-bot-api-secret-token': webhookSecret } : {}) };
      const ok = await fetch(webhookUrl, { method: 'POST', headers, body: JSON.stringify(update) }).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) return;
      pending.shift();
    }
  }

  const requireChat = (p: Record<string, unknown>) => {
    const chatId = p.chat_id;
    if (chatId === undefined || chatId === '') throw new ApiError(400, 'Bad Request: chat_id is empty');
    if (!/^-?\d+$|^@\w+$/.test(String(chatId))) throw new ApiError(400, 'Bad Request: chat not found');
    return String(chatId);
  };
  const replyTo = (p: Record<string, unknown>): number | undefined => {
    const params = jsonParam<{ message_id?: number }>(p.reply_parameters);
    const id = params?.message_id ?? (p.reply_to_message_id !== undefined ? Number(p.reply_to_message_id) : undefined);
    return id === undefined || Number.isNaN(id) ? undefined : id;
  };
  const checkRateLimit = () => {
    if (rateLimited.count <= 0) return;
    rateLimited.count--;
    throw new ApiError(429, `Too Many Requests: retry after ${rateLimited.retryAfter}`, { retry_after: rateLimited.retryAfter });
  };

  const methods: Record<string, (p: Record<string, unknown>, files: Record<string, Upload>, req: IncomingMessage) => unknown> = {
    getMe: () => ({ ...botUser, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false }),

    async getUpdates(p, _files, req) {
      if (webhookUrl) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      const offset = p.offset === undefined ? 0 : Number(p.offset);
      if (offset > 0) pending.splice(0, pending.length, ...pending.filter((u) => u.update_id >= offset));
      const allowed = jsonParam<string[]>(p.allowed_updates);
      if (allowed !== undefined) allowedUpdates = allowed;
      const limit = Math.min(100, Math.max(1, Number(p.limit ?? 100)));
      const timeout = Math.max(0, Number(p.timeout ?? 0));
      if (deliverable().length === 0 && timeout > 0) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiters.delete(done);
            req.off('close', done);
            resolve();
          };
          const timer = setTimeout(done, timeout * 1000);
          waiters.add(done);
          req.once('close', done);
        });
      }
      return deliverable().slice(0, limit);
    },

    setWebhook(p) {
      if (!p.url || !/^https?:\/\//.test(String(p.url))) throw new ApiError(400, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
      webhookUrl = String(p.url);
      webhookSecret = typeof p.secret_token === 'string' ? p.secret_token : '';
      if (Array.isArray(p.allowed_updates)) allowedUpdates = p.allowed_updates.map(String);
      wake();
      void pushToWebhook();
      return true;
    },
    deleteWebhook(p) {
      webhookUrl = '';
      webhookSecret = '';
      if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') pending.length = 0;
      return true;
    },
    getWebhookInfo: () => ({ url: webhookUrl, has_custom_certificate: false, pending_update_count: pending.length, allowed_updates: allowedUpdates }),

    sendMessage(p) {
      const chatId = requireChat(p);
      const html = String(p.text ?? '');
      const text = p.parse_mode === 'HTML' ? parseTelegramHtml(html) : html;
      if (text.trim() === '') throw new ApiError(400, 'Bad Request: message text is empty');
      if ([...text].length > MAX_TEXT) throw new ApiError(400, 'Bad Request: message is too long');
      checkRateLimit();
      const messageId = nextMessageId(chatId);
      sent.push({ method: 'sendMessage', chatId, messageId, text: html, parseMode: p.parse_mode as string | undefined, replyTo: replyTo(p), at: Date.now() });
      return { message_id: messageId, from: botUser, chat: chatOf(chatId), date: Math.floor(Date.now() / 1000), text };
    },

    sendPhoto(p, files) {
      const chatId = requireChat(p);
      const upload = files.photo;
      if (!upload) throw new ApiError(400, typeof p.photo === 'string' ? 'Bad Request: wrong file identifier/HTTP URL specified' : 'Bad Request: there is no photo in the request');
      if (upload.data.length > 10 * 1024 * 1024) throw new ApiError(400, 'Bad Request: PHOTO_INVALID_DIMENSIONS');
      const size = imageSize(upload.data);
      if (!size) throw new ApiError(400, 'Bad Request: IMAGE_PROCESS_FAILED');
      const captionHtml = p.caption === undefined ? undefined : String(p.caption);
      const caption = captionHtml !== undefined && p.parse_mode === 'HTML' ? parseTelegramHtml(captionHtml) : captionHtml;
      if (caption !== undefined && [...caption].length > MAX_CAPTION) throw new ApiError(400, 'Bad Request: message caption is too long');
      checkRateLimit();
      const messageId = nextMessageId(chatId);
      sent.push({ method: 'sendPhoto', chatId, messageId, caption: captionHtml, parseMode: p.parse_mode as string | undefined, replyTo: replyTo(p), photo: upload.data, at: Date.now() });
      const fileId = `photo-${chatId}-${messageId}`;
      return {
        message_id: messageId,
        from: botUser,
        chat: chatOf(chatId),
        date: Math.floor(Date.now() / 1000),
        photo: [{ file_id: fileId, file_unique_id: fileId, width: size.width, height: size.height, file_size: upload.data.length }],
        ...(caption !== undefined ? { caption } : {}),
      };
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
      let files: Record<string, Upload> = {};
      let status = 200;
      let payload: unknown;
      try {
        if (!route) throw new ApiError(404, 'Not Found');
        const [, given, method = ''] = route;
        if (given !== token) throw new ApiError(401, 'Unauthorized');
        const body = await readBody(req);
        const type = req.headers['content-type'] ?? '';
        if (body.length && type.startsWith('application/json')) Object.assign(params, JSON.parse(body.toString('utf8')));
        else if (body.length && type.startsWith('application/x-www-form-urlencoded')) Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
        else if (type.startsWith('multipart/form-data')) {
          const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
          const parsed = parseMultipart(body, boundary?.[1] ?? boundary?.[2] ?? '');
          Object.assign(params, parsed.fields);
          files = parsed.files;
        }
        const handler = methods[method];
        if (!handler) throw new ApiError(404, 'Not Found');
        payload = { ok: true, result: await handler(params, files, req) };
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(400, `Bad Request: ${(err as Error).message}`);
        status = e.status;
        payload = { ok: false, error_code: e.status, description: e.description, ...(e.parameters ? { parameters: e.parameters } : {}) };
      }
      calls.push({ method: route?.[2] ?? url.pathname, status, at: Date.now(), params });
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    botUser,
    sent,
    calls,
    userSays(m) {
      const chatId = String(m.chatId);
      const command = /^\/[A-Za-z0-9_]+(@\w+)?/.exec(m.text);
      const type = m.chatType ?? (m.chatId === m.from.id ? 'private' : 'group');
      const update: TelegramUpdate = {
        update_id: nextUpdateId++,
        message: {
          message_id: nextMessageId(chatId),
          from: { id: m.from.id, is_bot: false, first_name: m.from.firstName ?? `user ${m.from.id}`, ...(m.from.username ? { username: m.from.username } : {}) },
          chat: type === 'private' ? { id: m.chatId, type, first_name: m.from.firstName ?? `user ${m.from.id}` } : { id: m.chatId, type, title: `chat ${m.chatId}` },
          date: Math.floor(Date.now() / 1000),
          text: m.text,
          ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
        },
      };
      pending.push(update);
      wake();
      void pushToWebhook();
      return update;
    },
    rateLimitNext(count, retryAfterSeconds) {
      rateLimited = { count, retryAfter: retryAfterSeconds };
    },
    sentTo(chatId, reply) {
      return sent.filter((s) => s.chatId === String(chatId) && (reply === undefined || s.replyTo === reply));
    },
    close() {
      wake();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
