import { Logger } from '@nestjs/common';
import { Telegram, TelegramError } from 'telegraf';
import type { Notifier } from './notifier';

export interface TelegramNotifierOptions {
  token: string;
  chatIds: string[];
  /** Bot API base URL; Telegram's own when absent. */
  apiRoot?: string;
}

/**
 * Sends each message to every configured chat. A chat that refuses it (unknown, bot blocked) is
 * logged and skipped, since retrying cannot help; any other failure rejects so the event comes back.
 */
export class TelegramNotifier implements Notifier {
  readonly channel: string;
  private readonly log = new Logger('TelegramNotifier');
  private readonly telegram: Telegram;

  constructor(private readonly options: TelegramNotifierOptions) {
    this.telegram = new Telegram(options.token, options.apiRoot ? { apiRoot: options.apiRoot } : {});
    this.channel = `Telegram (${options.chatIds.length} chat${options.chatIds.length === 1 ? '' : 's'})`;
  }

  async send(html: string): Promise<void> {
    const failed: string[] = [];
    for (const chatId of this.options.chatIds) {
      try {
        await this.telegram.sendMessage(chatId, html, { parse_mode: 'HTML' });
      } catch (err) {
        const why = this.redact(err instanceof Error ? err.message : String(err));
        if (err instanceof TelegramError && err.code >= 400 && err.code < 500 && err.code !== 429) {
          this.log.warn(`chat ${chatId} refused the message: ${why}`);
        } else {
          failed.push(`chat ${chatId}: ${why}`);
        }
      }
    }
    if (failed.length) throw new Error(`Telegram sendMessage failed for ${failed.join('; ')}`);
  }

  /** The token is part of every Bot API URL, so it must never reach a log through an error. */
  private redact(text: string): string {
    return text.replaceAll(this.options.token, '<token>');
  }
}
