import { z } from 'zod';
import { busEnv, databaseEnv, envBool, envInt, envNumber, envList, httpEnv, storageEnv } from '@trainyard/config';

const telegramId = /^-?\d+$/;

export const notifierEnv = z
  .object({
    ...busEnv,
    ...databaseEnv,
    ...storageEnv,
    ...httpEnv(3005),
    /** Messages go to Telegram when set, to the log otherwise; it is never logged. */
    TELEGRAM_BOT_TOKEN: z.string().optional(),
    /** The allow-list: chats that receive every message and whose commands the bot answers, comma-separated. */
    TELEGRAM_CHAT_IDS: envList.refine((ids) => ids.every((id) => telegramId.test(id) || /^@\w+$/.test(id)), 'chat ids are numbers (or @channel names)'),
    /** Telegram user ids allowed to change things (/run, /cancel, /retry, /promote, /rollback), comma-separated. */
    TELEGRAM_OPERATOR_IDS: envList.refine((ids) => ids.every((id) => telegramId.test(id)), 'operator ids are Telegram user ids (numbers)'),
    /** Bot API base URL: Telegram's, a self-hosted Bot API server, or a test stand-in. */
    TELEGRAM_API_URL: z.string().url().default('https://api.telegram.org'),
    /** Take updates by webhook at this public URL (HTTPS, through a proxy to TELEGRAM_WEBHOOK_PORT) instead of long polling. */
    TELEGRAM_WEBHOOK_URL: z.string().url().optional(),
    TELEGRAM_WEBHOOK_PORT: envInt(8443, 1, 65535),
    TELEGRAM_WEBHOOK_HOST: z.string().default('0.0.0.0'),
    /** Answer commands (long polling with getUpdates); only one process may poll a bot, so turn it off on extra replicas. */
    TELEGRAM_COMMANDS: envBool(true),
    /** Times a send answered with 429 is tried again after Telegram's retry_after. */
    TELEGRAM_MAX_RETRIES: envInt(3, 0, 20),
    /** A longer retry_after is not waited for here: the send fails and its event comes back later. */
    TELEGRAM_MAX_RETRY_AFTER_SECONDS: envInt(60, 1),
    /** Model decisions, rollbacks and jobs given up on are gathered into one digest message, at first this often… */
    NOTIFIER_DIGEST_SECONDS: envNumber(15, 1),
    /** …then twice as long after each digest while more keep coming, up to this; a quiet spell brings it back down. */
    NOTIFIER_DIGEST_MAX_SECONDS: envNumber(1800, 1),
    /** How long the bot waits for the scheduler or the promoter to answer a question. */
    NOTIFIER_QUERY_TIMEOUT_MS: envInt(5000, 100),
    /** How long a run's completion message waits for the promoter to decide the run's versions, to name (and chart) the promoted ones. */
    NOTIFIER_PROMOTION_WAIT_SECONDS: envNumber(30, 0),
  })
  .refine((c) => !c.TELEGRAM_BOT_TOKEN || c.TELEGRAM_CHAT_IDS.length > 0, {
    path: ['TELEGRAM_CHAT_IDS'],
    message: 'name at least one chat when TELEGRAM_BOT_TOKEN is set',
  });

export type NotifierConfig = z.output<typeof notifierEnv>;
export const NOTIFIER_CONFIG = Symbol('NOTIFIER_CONFIG');
