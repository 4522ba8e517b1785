import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EventName } from '@trainyard/contracts';
import { Clock } from '@trainyard/runtime';
import { MessageStore } from './message.store';
import { NOTIFIER, type Notifier } from './notifier';

/** Sends each message once: an event delivered again finds its message in the log and sends nothing. */
@Injectable()
export class AlertsService {
  private readonly log = new Logger('Alerts');

  constructor(
    private readonly store: MessageStore,
    private readonly clock: Clock,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
  ) {}

  async notify(kind: EventName, dedupeKey: string, text: string): Promise<void> {
    const sent = await this.store.sendOnce({ kind, dedupeKey, text }, async () => {
      await this.notifier.send(text);
      return this.clock.now();
    });
    if (!sent) this.log.debug(`${dedupeKey} was sent already`);
  }

  /** A picture, drawn only when it was not sent already; the caption stands for it in the message log. */
  async notifyPhoto(kind: EventName, dedupeKey: string, caption: string, render: () => Promise<Buffer>): Promise<void> {
    const sent = await this.store.sendOnce({ kind, dedupeKey, text: caption }, async () => {
      await this.notifier.sendPhoto(await render(), caption);
      return this.clock.now();
    });
    if (!sent) this.log.debug(`${dedupeKey} was sent already`);
  }
}
