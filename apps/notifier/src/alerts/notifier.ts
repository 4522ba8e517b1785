/** Where messages go: the log by default, Telegram when a bot token is configured. */
export interface Notifier {
  /** Says where, for the start-up log. */
  readonly channel: string;
  /** Sends one message in Telegram HTML; resolves once it is delivered, rejects when it should be retried. */
  send(html: string): Promise<void>;
  /** Sends a PNG picture with an HTML caption (at most 1024 characters), likewise. */
  sendPhoto(png: Buffer, captionHtml: string): Promise<void>;
}

export const NOTIFIER = Symbol('NOTIFIER');
