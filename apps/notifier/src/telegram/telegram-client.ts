/** A user's text message the bot received. */
export interface IncomingMessage {
  chatId: string;
  userId: string | null;
  username: string | null;
  messageId: number;
  text: string;
}

export interface SendOptions {
  /** Sends as a reply to this message of the chat. */
  replyTo?: number;
}

/**
 * Everything the notifier does with Telegram, behind one injectable seam: send HTML messages and PNG
 * pictures to a chat, and receive users' messages. Sends are retried after a 429's retry_after and
 * never carry the bot token in an error.
 */
export interface TelegramClient {
  /** The bot's @username once known (after the first getMe), for commands addressed to it in groups. */
  readonly botUsername: string | null;
  sendMessage(chatId: string, html: string, options?: SendOptions): Promise<void>;
  sendPhoto(chatId: string, png: Buffer, captionHtml: string, options?: SendOptions): Promise<void>;
  /** Starts receiving (long polling); each text message is handed to `onMessage`. */
  /** Starts taking users' messages: long polling, or a webhook when one is configured. */
  startReceiving(onMessage: (message: IncomingMessage) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export const TELEGRAM_CLIENT = Symbol('TELEGRAM_CLIENT');

/** A send Telegram refused or that could not reach it; `code` is Telegram's error_code (or 0 for a network error). */
export class TelegramSendError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'TelegramSendError';
  }

  /** The chat itself refuses (400: unknown chat or message; 403: bot blocked or removed): trying again cannot help. */
  get chatRefused(): boolean {
    return this.code === 400 || this.code === 403;
  }
}
