import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage as HttpRequest } from 'node:http';
import { z } from 'zod';

/** Telegram's updates are a few kilobytes; a text message is at most 4096 characters. */
export const MAX_UPDATE_BYTES = 64 * 1024;

/**
 * The part of an update the bot reads, checked before telegraf sees it: Telegram sends nothing else,
 * and a post carrying the secret but not this shape (a leaked secret, a proxy's mistake) is refused
 * with 400 rather than crashing the process inside telegraf.
 */
export const WebhookUpdate = z
  .object({
    update_id: z.number().int().nonnegative(),
    message: z
      .object({
        message_id: z.number().int(),
        date: z.number().int(),
        chat: z.object({ id: z.number().int(), type: z.string().max(32) }).passthrough(),
        from: z
          .object({ id: z.number().int(), is_bot: z.boolean(), first_name: z.string().max(256) })
          .passthrough()
          .optional(),
        text: z.string().max(4096).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export type WebhookRefusal = { status: 400 | 403 | 404 | 405 | 413; message: string };

export function sameSecret(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads a webhook post: the update to hand to telegraf, or why the post is refused (status and a short reason, never the body). */
export async function readWebhookUpdate(req: HttpRequest, path: string, secret: string): Promise<{ update: z.output<typeof WebhookUpdate> } | WebhookRefusal> {
  if (new URL(req.url ?? '/', 'http://x').pathname !== path) return { status: 404, message: 'not found' };
  if (req.method !== 'POST') return { status: 405, message: 'POST only' };
  if (!sameSecret(req.headers['x-telegram-bot-api-secret-token'], secret)) return { status: 403, message: 'not from Telegram' };
  const raw = await readBody(req);
  if (raw === null) return { status: 413, message: `an update is at most ${MAX_UPDATE_BYTES} bytes` };
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return { status: 400, message: 'the body is not JSON' };
  }
  const parsed = WebhookUpdate.safeParse(body);
  if (!parsed.success)
    return {
      status: 400,
      message: `not a Telegram update: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')}`.slice(0, 300),
    };
  return { update: parsed.data };
}

/** Past this the sender is cut off rather than read to the end. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

/**
 * The body, or null when it is over MAX_UPDATE_BYTES. An oversized body is read to its end and thrown
 * away (up to DRAIN_LIMIT), so the 413 reaches a sender still writing instead of a reset connection.
 */
function readBody(req: HttpRequest): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DRAIN_LIMIT) req.destroy();
      else if (bytes <= MAX_UPDATE_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(bytes > MAX_UPDATE_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => (bytes > DRAIN_LIMIT ? resolve(null) : undefined));
  });
}
