import { Logger } from '@nestjs/common';
import { htmlToText } from './html';
import type { Notifier } from './notifier';

/** Writes each message to the service log as plain multi-line text; a picture is named, not drawn. */
export class LogNotifier implements Notifier {
  readonly channel = 'the log';
  private readonly log = new Logger('Notification');

  async send(html: string): Promise<void> {
    this.log.log(`\n${htmlToText(html)}`);
  }

  async sendPhoto(png: Buffer, captionHtml: string): Promise<void> {
    this.log.log(`\n[chart, PNG of ${png.length} bytes] ${htmlToText(captionHtml)}`);
  }
}
