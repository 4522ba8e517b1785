import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobRepository } from '../repositories/job.repository';
import { RunRepository } from '../repositories/run.repository';

const STALE_RELEASE_MS = 30_000;
const MAX_REPEAT_GAP_MS = 8 * 60_000;

/**
 * How many times a job released `ageMs` ago and still unleased has been due to be asked for again:
 * at 30 s, then after gaps that double up to 8 min (30, 90, 210, 450, 930 s, then every 8 min). A job
 * waiting behind a backed-up broker is asked a few times an hour, not every 30 s.
 */
export function repeatsDue(ageMs: number): number {
  let due = 0;
  for (let at = STALE_RELEASE_MS, gap = STALE_RELEASE_MS; at <= ageMs; gap = Math.min(gap * 2, MAX_REPEAT_GAP_MS), at += gap) due += 1;
  return due;
}

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
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly dispatcher: DispatcherService,
    private readonly lifecycle: JobLifecycleService,
    private readonly completion: CompletionService,
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
      if (!(await this.runs.needsReconciling())) {
        // No job is released, so none is suspect: the next one released is asked again when its age says.
        this.lastRepublish = now.getTime();
        return;
      }
      for (const run of await this.runs.unpublishedCompletions()) await this.completion.publish(run);
      for (const job of await this.jobs.overdue(now)) await this.timeOut(job.id, job.attempt, job.definition.timeoutMinutes);
      // A crash or a failed publish between fencing a timed-out attempt off and its job.cancel leaves the
      // agent running it. Sent again each tick until the job's next attempt is released (same id, so the
      // stream keeps one); a failure here stops this tick before any release.
      for (const job of await this.jobs.timedOutAwaitingRetry()) await this.lifecycle.publishTimeoutCancel(job.id, job.attempt, job.definition.timeoutMinutes);
      if (this.lastRepublish === null || now.getTime() - this.lastRepublish >= STALE_RELEASE_MS) {
        // Unleased requests may simply be queued at the broker, which keeps one request per (jobId, attempt)
        // and answers a repeat with what became of it (a lost lease's lease.lost, a cancel's job.cancelled).
        // A job is asked again each time its age passes a point of repeatsDue; the count names the message,
        // so replicas asking at once send one.
        const last = this.lastRepublish;
        const cutoff = last === null ? now : new Date(now.getTime() - STALE_RELEASE_MS);
        for (const job of await this.jobs.staleReleases(cutoff)) {
          const due = repeatsDue(now.getTime() - job.releasedAt!.getTime());
          if (last !== null && due === repeatsDue(last - job.releasedAt!.getTime())) continue;
          await this.dispatcher.publishRequest(job, (await this.runs.find(job.runId))?.traceContext, due);
        }
        this.lastRepublish = now.getTime();
      }
      for (const runId of await this.runs.runningIds()) {
        await this.dispatcher.release(runId);
        await this.completion.check(runId);
      }
    } catch (err) {
      this.log.warn(`reconcile failed, will try again: ${(err as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** The attempt is failed (retryable) before its agent is asked to stop it: see JobLifecycleService.timedOut. */
  private async timeOut(jobId: string, attempt: number, minutes: number): Promise<void> {
    this.log.warn(`${jobId} attempt ${attempt} exceeded its ${minutes} min timeout, counted from its start`);
    await this.lifecycle.timedOut(jobId, attempt, minutes);
  }
}
