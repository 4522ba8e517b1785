import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { DigestStore } from './digest.store';
import { formatDigest } from './message-format';
import { NOTIFIER, type Notifier } from './notifier';

/**
 * Model decisions arrive one per symbol; a run of 300 symbols must not send 300 messages. They are
 * queued and sent together every NOTIFIER_DIGEST_SECONDS, and once more on shutdown.
 */
@Injectable()
export class DigestService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Digest');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: DigestStore,
    private readonly clock: Clock,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
    @Inject(NOTIFIER_CONFIG) private readonly cfg: NotifierConfig,
  ) {}

  queue(dedupeKey: string, line: string): Promise<void> {
    return this.store.queue(dedupeKey, line, this.clock.now());
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.flush().catch((err: Error) => this.log.warn(`digest not sent yet: ${err.message}`)), this.cfg.NOTIFIER_DIGEST_SECONDS * 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch((err: Error) => this.log.warn(`digest left for the next start: ${err.message}`));
  }

  flush(): Promise<number> {
    return this.store.flush(async (lines) => {
      const text = formatDigest(lines.map((l) => l.line));
      await this.notifier.send(text);
      return { text, sentAt: this.clock.now() };
    });
  }
}
