import { Logger } from '@nestjs/common';
import { TelegramSendError, type TelegramClient } from '../telegram/telegram-client';
import type { Notifier } from './notifier';

/**
 * Sends each message to every allowed chat. A chat that refuses it (unknown, bot blocked) is logged
 * and skipped, since retrying cannot help; any other failure (after the client's waits on 429)
 * rejects, so the event comes back.
 */
export class TelegramNotifier implements Notifier {
  readonly channel: string;
  private readonly log = new Logger('TelegramNotifier');

  constructor(
    private readonly client: TelegramClient,
    private readonly chatIds: string[],
  ) {
    this.channel = `Telegram (${chatIds.length} chat${chatIds.length === 1 ? '' : 's'})`;
  }

  send(html: string): Promise<void> {
    return this.toEveryChat((chatId) => this.client.sendMessage(chatId, html));
  }

  sendPhoto(png: Buffer, captionHtml: string): Promise<void> {
    return this.toEveryChat((chatId) => this.client.sendPhoto(chatId, png, captionHtml));
  }

  private async toEveryChat(send: (chatId: string) => Promise<void>): Promise<void> {
    const failed: string[] = [];
    for (const chatId of this.chatIds) {
      try {
        await send(chatId);
      } catch (err) {
        if (err instanceof TelegramSendError && err.chatRefused) this.log.warn(`chat ${chatId} refused: ${err.message}`);
        else failed.push((err as Error).message);
      }
    }
    if (failed.length) throw new Error(`Telegram: ${failed.join('; ')}`);
  }
}
