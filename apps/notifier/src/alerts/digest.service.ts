import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { DigestStore } from './digest.store';
import { formatDigest } from './message-format';
import { NOTIFIER, type Notifier } from './notifier';

/**
 * Decisions and failures arrive one per symbol; a run of 300 symbols must not send 300 messages,
 * however its events are spread over the hours it runs. Lines are queued and sent together: the
 * first digest NOTIFIER_DIGEST_SECONDS after they start, each next one twice as late while lines keep
 * coming (up to NOTIFIER_DIGEST_MAX_SECONDS), back to the short pace after a quiet spell of twice the
 * current interval. A burst costs a few messages, a trickle at most one per maximum interval: a run
 * of hours sends about log2(max/first) + hours × 3600 / max digests, whatever its symbol count.
 * Once more on shutdown.
 */
@Injectable()
export class DigestService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Digest');
  private timer?: NodeJS.Timeout;
  private intervalMs: number;
  private nextAt = 0;
  private lastSentAt = 0;
  private ticking = false;

  constructor(
    private readonly store: DigestStore,
    private readonly clock: Clock,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
    @Inject(NOTIFIER_CONFIG) private readonly cfg: NotifierConfig,
  ) {
    this.intervalMs = cfg.NOTIFIER_DIGEST_SECONDS * 1000;
  }

  queue(dedupeKey: string, line: string): Promise<void> {
    return this.store.queue(dedupeKey, line, this.clock.now());
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.NOTIFIER_DIGEST_SECONDS * 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch((err: Error) => this.log.warn(`digest left for the next start: ${err.message}`));
  }

  /** Sends what is waiting if the pace allows, and sets the next pace. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.clock.now().getTime();
      const base = this.cfg.NOTIFIER_DIGEST_SECONDS * 1000;
      if (now - this.lastSentAt >= 2 * this.intervalMs) this.intervalMs = base;
      if (now < this.nextAt) return;
      if ((await this.flush()) === 0) return;
      this.lastSentAt = now;
      this.nextAt = now + this.intervalMs;
      this.intervalMs = Math.min(this.intervalMs * 2, Math.max(base, this.cfg.NOTIFIER_DIGEST_MAX_SECONDS * 1000));
    } catch (err) {
      this.log.warn(`digest not sent yet: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  flush(): Promise<number> {
    return this.store.flush(async (lines) => {
      const text = formatDigest(lines.map((l) => l.line));
      await this.notifier.send(text);
      return { text, sentAt: this.clock.now() };
    });
  }
}
