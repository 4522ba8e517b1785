import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import { JobLifecycleService } from './job-lifecycle.service';
import { SchedulerStore } from './scheduler.store';

const STALE_RELEASE_MS = 30_000;

/**
 * The database is the record, not the stream: on start and on every tick this brings the bus in
 * line with the tables (due retries, timeouts, lost job requests, unpublished completions).
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private ticking = false;
  /** Before the first republish every released job is suspect: a crash may have cut its publish. */
  private lastRepublish: number | null = null;

  constructor(
    private readonly store: SchedulerStore,
    private readonly dispatcher: DispatcherService,
    private readonly lifecycle: JobLifecycleService,
    private readonly completion: CompletionService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.SCHEDULER_TICK_MS);
    void this.tick();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = this.clock.now();
      for (const run of await this.store.unpublishedCompletions()) await this.completion.publish(run);
      for (const job of await this.store.overdueJobs(now)) await this.timeOut(job.id, job.attempt, job.definition.timeoutMinutes);
      if (this.lastRepublish === null || now.getTime() - this.lastRepublish >= STALE_RELEASE_MS) {
        // Unleased requests may simply be queued at the broker; republishing is harmless (same ids) but not free.
        const cutoff = this.lastRepublish === null ? now : new Date(now.getTime() - STALE_RELEASE_MS);
        for (const job of await this.store.staleReleases(cutoff)) await this.dispatcher.publishRequest(job, (await this.store.findRun(job.runId))?.traceContext);
        this.lastRepublish = now.getTime();
      }
      for (const runId of await this.store.runningRunIds()) {
        await this.dispatcher.release(runId);
        await this.completion.check(runId);
      }
    } catch (err) {
      this.log.warn(`reconcile failed, will try again: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private async timeOut(jobId: string, attempt: number, minutes: number): Promise<void> {
    this.log.warn(`${jobId} attempt ${attempt} exceeded its ${minutes} min timeout`);
    await this.bus.publish('job.cancel', { jobId, reason: `timeout after ${minutes} min` }, { id: `${jobId}-a${attempt}-timeout` });
    await this.lifecycle.failed({ jobId, attempt, errorType: 'timeout', retryable: true, message: `exceeded the ${minutes} min timeout` });
  }
}
