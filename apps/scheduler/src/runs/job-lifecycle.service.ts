import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { canApplyAttemptEvent, EARLIER_CHECKPOINTS, TERMINAL_JOB_STATES, type ErrorType, type EventMessage } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import { retryDelaySeconds, shouldRetry } from './retry-policy';
import type { JobEntity } from '../repositories/job.entity';
import { JobRepository, type SucceededJob } from '../repositories/job.repository';
import { LedgerRepository } from '../repositories/ledger.repository';

export interface AttemptFailure {
  jobId: string;
  attempt: number;
  errorType: ErrorType;
  retryable: boolean;
  message: string;
  stackSummary?: string;
}

/** Follows each job through its attempts; stale and duplicate events leave it unchanged. */
@Injectable()
export class JobLifecycleService {
  private readonly log = new Logger('JobLifecycle');

  constructor(
    private readonly jobs: JobRepository,
    private readonly ledger: LedgerRepository,
    private readonly dispatcher: DispatcherService,
    private readonly completion: CompletionService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
    @Optional() private readonly metrics?: SchedulerMetrics,
  ) {}

  async leased(m: EventMessage<'job.leased'>): Promise<void> {
    await this.jobs.markLeased(m.jobId, m.attempt, m.lease);
  }

  async started(m: EventMessage<'job.started'>): Promise<void> {
    const job = await this.jobs.markStarted(m.jobId, m.attempt, {
      startedAt: new Date(m.occurredAt),
      agentId: m.agentId,
      leaseId: m.leaseId,
      artifactsPrefix: m.artifactsPrefix ?? null,
      codeVersion: m.codeVersion ?? null,
    });
    if (job) this.metrics?.started(job);
  }

  /** Keeps the latest report only; an older one arriving late is dropped. */
  async progressed(m: EventMessage<'job.progress'>): Promise<void> {
    await this.jobs.update(m.jobId, m.attempt, (job) => {
      if (TERMINAL_JOB_STATES.has(job.status) || (job.progress && job.progress.at >= m.occurredAt)) return false;
      const { percent, epoch, step, loss, validationMetric, etaSeconds } = m;
      job.progress = { percent, epoch, step, loss, validationMetric, etaSeconds, at: m.occurredAt };
      return true;
    });
  }

  async checkpointed(m: EventMessage<'job.checkpointed'>): Promise<void> {
    await this.jobs.update(m.jobId, m.attempt, (job) => {
      if (TERMINAL_JOB_STATES.has(job.status) || job.checkpoint?.sha256 === m.checkpoint.sha256) return false;
      if (job.checkpoint) job.earlierCheckpoints = [job.checkpoint, ...(job.earlierCheckpoints ?? []).filter((c) => c.sha256 !== m.checkpoint.sha256)].slice(0, EARLIER_CHECKPOINTS);
      job.checkpoint = m.checkpoint;
      return true;
    });
  }

  /** The job as it now stands; null for a stale or repeated success (whose attempt's report is kept all the same). */
  async succeeded(m: EventMessage<'job.succeeded'>): Promise<SucceededJob | null> {
    const job = await this.jobs.markSucceeded(
      m.jobId,
      m.attempt,
      {
        startedAt: new Date(m.startedAt),
        finishedAt: new Date(m.finishedAt),
        trainSeconds: m.trainSeconds,
        metrics: m.metrics,
        artifactsPrefix: m.artifactsPrefix,
        artifacts: m.artifacts,
      },
      this.clock.now(),
    );
    if (!job) return null;
    this.metrics?.finished('succeeded', job.startedAt, job.finishedAt);
    await this.afterChange(job.runId);
    return job;
  }

  async failed(f: AttemptFailure): Promise<void> {
    await this.fail(f);
  }

  /**
   * Ends an attempt past its timeout. The attempt is fenced off first (it fails as retryable, so the
   * job waits for a new attempt): the job.cancelled its agent answers with is then stale and cannot
   * cancel the job. Only then is the agent (or the broker, if the attempt is still queued there)
   * asked to stop it, and before the next attempt is released, so that the cancel, which names only
   * the job, goes out ahead of the next attempt's request.
   */
  async timedOut(jobId: string, attempt: number, minutes: number): Promise<void> {
    const message = `exceeded the ${minutes} min timeout`;
    await this.fail({ jobId, attempt, errorType: 'timeout', retryable: true, message }, async () => {
      await this.publishTimeoutCancel(jobId, attempt, minutes);
    });
  }

  /** The job.cancel of a timed-out attempt; its id is the attempt's, so a repeat is de-duplicated. */
  publishTimeoutCancel(jobId: string, attempt: number, minutes: number): Promise<void> {
    return this.bus.publish('job.cancel', { jobId, reason: `timeout after ${minutes} min` }, { id: `${jobId}-a${attempt}-timeout` }).then(() => undefined);
  }

  /** `beforeRelease` runs once the failure is recorded, before any job is released. */
  private async fail(f: AttemptFailure, beforeRelease?: () => Promise<void>): Promise<void> {
    let retryIn: number | null = null;
    const now = this.clock.now();
    const job = await this.jobs.update(f.jobId, f.attempt, async (job, em) => {
      if (!canApplyAttemptEvent(job.status, 'failed')) return false;
      const attemptStatus = f.errorType === 'agent_lost' ? 'lost' : f.errorType === 'timeout' ? 'timed_out' : 'failed';
      await this.jobs.updateAttempt(em, job.id, job.attempt, {
        status: attemptStatus,
        finishedAt: now,
        errorType: f.errorType,
        message: f.message.slice(0, 4000),
        stackSummary: f.stackSummary?.slice(0, 4000) ?? null,
      });
      job.errorType = f.errorType;
      job.errorMessage = f.message.slice(0, 4000);
      if (shouldRetry(f.errorType, f.retryable, job.attempt, job.maxAttempts)) {
        retryIn = retryDelaySeconds(job.attempt, this.cfg.SCHEDULER_RETRY_BASE_SECONDS);
        job.status = 'retry_wait';
        job.nextAttemptAt = new Date(now.getTime() + retryIn * 1000);
      } else {
        job.status = 'failed';
        job.finishedAt = now;
        await this.recordFailure(em, job);
      }
      return true;
    });
    if (!job) return;
    // Before the notifications: a failed publish of either leaves the reconciler to send it again, and
    // the cancel is the one that must precede the next attempt's release.
    await beforeRelease?.();
    this.metrics?.finished('failed', job.startedAt, now);
    const fields = { runId: job.runId, jobId: job.id, symbol: job.symbol, attempt: f.attempt, errorType: f.errorType };
    if (retryIn !== null) {
      this.metrics?.retried(f.errorType);
      this.log.warn({ event: 'job_retry_scheduled', ...fields, delaySeconds: retryIn, msg: `${job.id} attempt ${f.attempt} failed (${f.errorType}): retrying in ${Math.round(retryIn)} s` });
      await this.bus.publish(
        'job.retrying',
        { jobId: job.id, runId: job.runId, symbol: job.symbol, attempt: f.attempt, nextAttempt: f.attempt + 1, delaySeconds: retryIn, errorType: f.errorType },
        { id: `${job.id}-a${f.attempt}-retrying` },
      );
    } else {
      this.log.error({ event: 'job_gave_up', ...fields, msg: `${job.id} failed for good after attempt ${f.attempt} (${f.errorType}): ${f.message}` });
      await this.bus.publish(
        'job.gave_up',
        { jobId: job.id, runId: job.runId, symbol: job.symbol, attempt: f.attempt, errorType: f.errorType, message: f.message.slice(0, 4000) },
        { id: `${job.id}-a${f.attempt}-gave-up` },
      );
    }
    await this.afterChange(job.runId);
  }

  /**
   * The attempt's agent (or the broker) stopped it. That cancels the job only while the attempt is
   * the job's current one: the answer to a timeout's job.cancel comes from an attempt already fenced
   * off (retry_wait, or an older attempt number) and is recorded without moving the job.
   */
  async cancelled(m: EventMessage<'job.cancelled'>): Promise<void> {
    const now = this.clock.now();
    const job = await this.jobs.update(m.jobId, m.attempt, async (job, em) => {
      if (!canApplyAttemptEvent(job.status, 'cancelled')) return false;
      job.status = 'cancelled';
      job.finishedAt = now;
      job.errorType = 'cancelled';
      job.errorMessage = m.reason;
      await this.jobs.updateAttempt(em, job.id, job.attempt, { status: 'cancelled', finishedAt: job.finishedAt, errorType: 'cancelled', message: m.reason });
      return true;
    });
    if (!job) return this.staleCancelled(m, now);
    this.metrics?.finished('cancelled', job.startedAt, job.finishedAt);
    await this.afterChange(job.runId);
  }

  /**
   * A job.cancelled that did not move the job: a duplicate, or the answer of a fenced-off attempt
   * (one that timed out or failed before its agent stopped it). The attempt's row keeps how it ended
   * (an attempt somehow still open there is closed as cancelled) and the log says what was ignored.
   */
  private async staleCancelled(m: EventMessage<'job.cancelled'>, now: Date): Promise<void> {
    const current = await this.jobs.find(m.jobId);
    if (!current || (current.attempt === m.attempt && current.status !== 'retry_wait')) return;
    const closed = await this.jobs.closeOpenAttempt(m.jobId, m.attempt, { status: 'cancelled', finishedAt: now, errorType: 'cancelled', message: m.reason.slice(0, 4000) });
    this.log.warn({
      event: 'stale_attempt_event',
      type: 'job.cancelled',
      runId: current.runId,
      jobId: m.jobId,
      attempt: m.attempt,
      currentAttempt: current.attempt,
      jobStatus: current.status,
      attemptClosed: closed,
      msg: `${m.jobId} attempt ${m.attempt} reported cancelled (${m.reason}); the attempt was already fenced off, the job stays ${current.status}`,
    });
  }

  /**
   * Cancels a job: one still waiting is cancelled here; one holding a slot is asked to stop, and its
   * agent (or the broker, if it is still queued there) answers with job.cancelled.
   */
  async cancel(jobId: string, reason: string): Promise<JobEntity | null> {
    const job = await this.jobs.find(jobId);
    if (!job || TERMINAL_JOB_STATES.has(job.status)) return job;
    if (job.status === 'pending' || job.status === 'retry_wait') {
      const now = this.clock.now();
      const cancelled = await this.jobs.update(jobId, job.attempt, (j) => {
        if (j.status !== 'pending' && j.status !== 'retry_wait') return false;
        Object.assign(j, { status: 'cancelled', finishedAt: now, errorType: 'cancelled', errorMessage: reason });
        return true;
      });
      if (cancelled) {
        await this.afterChange(cancelled.runId);
        return cancelled;
      }
      return this.cancel(jobId, reason);
    }
    await this.bus.publish('job.cancel', { jobId, reason }, { id: `${jobId}-a${job.attempt}-cancel` });
    return job;
  }

  /** Gives a failed or cancelled job one more attempt, reopening its run if it had completed. */
  async retry(jobId: string): Promise<JobEntity | null> {
    const job = await this.jobs.reopen(jobId, this.clock.now());
    if (job) await this.afterChange(job.runId);
    return job;
  }

  private recordFailure(em: EntityManager, job: JobEntity): Promise<void> {
    const { date, symbol } = job.definition;
    return this.ledger.record(
      em,
      { date, symbol, trainingHash: job.trainingHash, outcome: 'failed', jobId: job.id, attempt: job.attempt, artifactsPrefix: job.artifactsPrefix, checkpoint: job.checkpoint },
      this.clock.now(),
    );
  }

  private async afterChange(runId: string): Promise<void> {
    // A run that has just released a job has an open one: there is nothing to close.
    if ((await this.dispatcher.release(runId)) > 0) return;
    await this.completion.check(runId);
  }
}
