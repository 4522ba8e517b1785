import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { parseTimeOfDay, type TimeOfDay } from '../daily/daily-schedule';
import { RecordRetentionService } from './record-retention.service';
import { RetentionStore } from './retention.store';

/**
 * Runs retention once a day, at SCHEDULER_RETENTION_AT (UTC) or at the first check after it (a
 * scheduler that was down catches up). The day's row in `retention_passes` is the claim, so
 * replicas and restarts run each day's pass once; it keeps what the pass freed.
 */
@Injectable()
export class DailyRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Retention');
  private readonly at: TimeOfDay;
  private timer?: NodeJS.Timeout;
  /** The last day this process saw claimed, so the checks between passes cost no query. */
  private lastDay: string | null = null;
  private checking = false;

  constructor(
    private readonly retention: RecordRetentionService,
    private readonly store: RetentionStore,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {
    this.at = parseTimeOfDay(cfg.SCHEDULER_RETENTION_AT);
  }

  onApplicationBootstrap(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.cfg.SCHEDULER_TICK_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const now = this.clock.now();
    const day = now.toISOString().slice(0, 10);
    const slot = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), this.at.hour, this.at.minute);
    if (this.checking || day === this.lastDay || now.getTime() < slot) return;
    this.checking = true;
    try {
      if (await this.store.claimPass(day, now)) {
        try {
          await this.store.finishPass(day, this.clock.now(), await this.retention.run());
        } catch (err) {
          await this.store.releasePass(day);
          throw err;
        }
      }
      this.lastDay = day;
    } catch (err) {
      this.log.warn(`retention pass of ${day} failed, will try again: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }
}
