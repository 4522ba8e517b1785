import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { TrackingStore } from './tracking.store';

export interface TrackingRetentionReport {
  logsDeleted: number;
  failedRunsPurged: number;
}

const DAY_MS = 86_400_000;

/**
 * Tracking retention: attempt logs go TRACKING_LOG_RETENTION_DAYS after the attempt finished, and a
 * failed attempt's tracked data TRACKING_FAILED_RETENTION_DAYS after; a run whose model is or was in
 * production is never touched. Each pass is bounded and idempotent, so replicas may run it at once.
 */
@Injectable()
export class TrackingRetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('TrackingRetention');
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: TrackingStore,
    private readonly clock: Clock,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.run().catch((err) => this.log.warn(`tracking retention failed, will try again: ${(err as Error).message}`)),
      this.cfg.TRACKING_RETENTION_INTERVAL_MINUTES * 60_000,
    );
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async run(): Promise<TrackingRetentionReport> {
    const now = this.clock.now().getTime();
    let logsDeleted = 0;
    for (const a of await this.store.logsOlderThan(new Date(now - this.cfg.TRACKING_LOG_RETENTION_DAYS * DAY_MS))) {
      await this.artifacts.delete(`${a.artifactsPrefix}/attempt.log`);
      await this.store.markLogDeleted(a.jobId, a.attempt, this.clock.now());
      logsDeleted++;
    }
    const failedRunsPurged = await this.store.purgeFailedBefore(new Date(now - this.cfg.TRACKING_FAILED_RETENTION_DAYS * DAY_MS), this.clock.now());
    if (logsDeleted || failedRunsPurged) this.log.log(`tracking retention: ${logsDeleted} attempt logs deleted, ${failedRunsPurged} failed runs purged`);
    return { logsDeleted, failedRunsPurged };
  }
}
