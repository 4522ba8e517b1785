import { z } from 'zod';
import { busEnv, databaseEnv, envNumber, envList, httpEnv } from '@trainyard/config';

export const notifierEnv = z
  .object({
    ...busEnv,
    ...databaseEnv,
    ...httpEnv(3005),
    /** Messages go to Telegram when set, to the log otherwise. */
    TELEGRAM_BOT_TOKEN: z.string().optional(),
    /** Chats that receive every message, comma-separated. */
    TELEGRAM_CHAT_IDS: envList,
    /** Bot API base URL, for a self-hosted Bot API server or a test stand-in. */
    TELEGRAM_API_URL: z.string().url().optional(),
    /** Model decisions are gathered and sent as one message this often. */
    NOTIFIER_DIGEST_SECONDS: envNumber(15, 1),
  })
  .refine((c) => !c.TELEGRAM_BOT_TOKEN || c.TELEGRAM_CHAT_IDS.length > 0, {
    path: ['TELEGRAM_CHAT_IDS'],
    message: 'name at least one chat when TELEGRAM_BOT_TOKEN is set',
  });

export type NotifierConfig = z.output<typeof notifierEnv>;
export const NOTIFIER_CONFIG = Symbol('NOTIFIER_CONFIG');
