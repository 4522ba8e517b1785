import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ACTIVE_JOB_STATES, canTransitionJob, JOB_STATES, TERMINAL_JOB_STATES } from '@trainyard/contracts';
import { AttemptEntity, type AttemptStatus } from './attempt.entity';
import { JobEntity } from './job.entity';
import { LedgerEntryEntity } from './ledger-entry.entity';
import { RunEntity } from './run.entity';
import { compareRelease } from './run-plan';
import { runSpend } from './run-spend.store';

const OPEN_JOB_STATES = JOB_STATES.filter((s) => !TERMINAL_JOB_STATES.has(s));
/**
 * States written into the SQL as literals, so the planner sees they imply the partial index jobs_open
 * (open jobs only) and never reads a run's finished jobs, whatever it estimates for a run it has no
 * statistics of yet (today's).
 */
const inList = (states: Iterable<string>) => [...states].map((s) => `'${s}'`).join(', ');

/** The scheduler's tables. Every change that races with another handler locks the rows it reads. */
@Injectable()
export class SchedulerStore {
  constructor(private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  findRun(id: string): Promise<RunEntity | null> {
    return this.ds.getRepository(RunEntity).findOneBy({ id });
  }

  findJob(id: string): Promise<JobEntity | null> {
    return this.ds.getRepository(JobEntity).findOneBy({ id });
  }

  jobsOfRun(runId: string): Promise<JobEntity[]> {
    return this.ds.getRepository(JobEntity).find({ where: { runId }, order: { symbol: 'ASC' } });
  }

  /** Inserts a run with its jobs; false when the run already exists (a duplicate request). */
  async createRun(run: QueryDeepPartialEntity<RunEntity>, jobs: QueryDeepPartialEntity<JobEntity>[]): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      const inserted = await em.createQueryBuilder().insert().into(RunEntity).values(run).orIgnore().returning('id').execute();
      if (inserted.raw.length === 0) return false;
      if (jobs.length) await em.getRepository(JobEntity).insert(jobs);
      return true;
    });
  }

  /** Mean train seconds of each symbol's past successes, for longest-expected-first ordering. */
  async pastTrainSeconds(symbols: string[]): Promise<Map<string, number>> {
    if (symbols.length === 0) return new Map();
    const rows: { symbol: string; avg: number }[] = await this.ds.query(
      `SELECT symbol, avg(train_seconds)::float AS avg FROM scheduler.jobs
       WHERE status = 'succeeded' AND train_seconds IS NOT NULL AND symbol = ANY($1) GROUP BY symbol`,
      [symbols],
    );
    return new Map(rows.map((r) => [r.symbol, Number(r.avg)]));
  }

  /**
   * Moves as many waiting jobs to `released` as the run has free slots, highest priority and longest
   * expected first, and records their attempts. Locks the run row so two handlers never over-release.
   */
  async claimReleasable(runId: string, now: Date): Promise<JobEntity[]> {
    return this.ds.transaction(async (em) => {
      const run = await em.getRepository(RunEntity).findOne({ where: { id: runId }, lock: { mode: 'pessimistic_write' } });
      if (!run || run.status !== 'running') return [];
      const [{ active }] = await em.query(`SELECT count(*)::int AS active FROM scheduler.jobs WHERE run_id = $1 AND status IN (${inList(ACTIVE_JOB_STATES)})`, [runId]);
      const slots = run.maxConcurrent - active;
      if (slots <= 0) return [];
      // Two reads of at most `slots` rows each, in the order of compareRelease (run-plan.ts): waiting jobs
      // along the partial index jobs_release_order, due retries beside them; never the run's whole queue.
      const ordered = (where: string) =>
        em
          .getRepository(JobEntity)
          .createQueryBuilder('j')
          .where('j.run_id = :runId', { runId })
          .andWhere(where, { now })
          .orderBy('j.priority_rank', 'ASC')
          .addOrderBy('j.expected_seconds', 'DESC')
          .addOrderBy('j.symbol', 'ASC')
          .limit(slots)
          .setLock('pessimistic_write')
          .getMany();
      const candidates = [...(await ordered(`j.status = 'pending'`)), ...(await ordered(`j.status = 'retry_wait' AND j.next_attempt_at <= :now`))].sort(compareRelease).slice(0, slots);
      for (const job of candidates) {
        if (job.status === 'retry_wait') job.attempt += 1;
        job.status = 'released';
        job.releasedAt = now;
        job.startedAt = null;
        job.leaseId = null;
        job.agentId = null;
        job.nextAttemptAt = null;
        await em.getRepository(JobEntity).save(job);
        await em.createQueryBuilder().insert().into(AttemptEntity).values({ jobId: job.id, attempt: job.attempt, status: 'requested', requestedAt: now }).orIgnore().execute();
      }
      return candidates;
    });
  }

  /**
   * Applies a change to one job under a row lock, only if the event is about its current attempt;
   * `change` returns false to leave the job as it is (a stale or duplicate event).
   */
  async updateJob(jobId: string, attempt: number, change: (job: JobEntity, em: EntityManager) => boolean | Promise<boolean>): Promise<JobEntity | null> {
    return this.ds.transaction(async (em) => {
      const job = await em.getRepository(JobEntity).findOne({ where: { id: jobId }, lock: { mode: 'pessimistic_write' } });
      if (!job || job.attempt !== attempt) return null;
      if (!(await change(job, em))) return null;
      await em.getRepository(JobEntity).save(job);
      return job;
    });
  }

  async updateAttempt(em: EntityManager, jobId: string, attempt: number, fields: Partial<AttemptEntity> & { status: AttemptStatus }): Promise<void> {
    await em.getRepository(AttemptEntity).update({ jobId, attempt }, fields);
  }

  /** Ends an attempt whose row is still open (requested, leased, running); false when it had ended. */
  async closeOpenAttempt(jobId: string, attempt: number, fields: Partial<AttemptEntity> & { status: AttemptStatus }): Promise<boolean> {
    const r = await this.ds.getRepository(AttemptEntity).update({ jobId, attempt, status: In(['requested', 'leased', 'running']) }, fields);
    return (r.affected ?? 0) > 0;
  }

  attemptsOf(jobId: string): Promise<AttemptEntity[]> {
    return this.ds.getRepository(AttemptEntity).find({ where: { jobId }, order: { attempt: 'ASC' } });
  }

  runningRunIds(): Promise<string[]> {
    return this.ds
      .getRepository(RunEntity)
      .find({ select: { id: true }, where: { status: 'running' } })
      .then((rows) => rows.map((r) => r.id));
  }

  /** Runs whose outcome is decided but whose run.completed may not have reached the bus. */
  unpublishedCompletions(): Promise<RunEntity[]> {
    return this.ds.getRepository(RunEntity).find({ where: { completionPublished: false, status: In(['succeeded', 'failed', 'partial', 'cancelled']) } });
  }

  /** Jobs released but never leased for a while: their job.requested may have been lost with a crash. */
  staleReleases(olderThan: Date): Promise<JobEntity[]> {
    return this.ds.getRepository(JobEntity).createQueryBuilder('j').where(`j.status = 'released'`).andWhere('j.released_at < :olderThan', { olderThan }).getMany();
  }

  /**
   * Jobs running past their timeout, counted from the current attempt's start (job.started; release
   * clears it). A job released or leased but not yet started is waiting for a slot, not overdue.
   */
  overdueJobs(now: Date): Promise<JobEntity[]> {
    return this.ds
      .getRepository(JobEntity)
      .createQueryBuilder('j')
      .where(`j.status = 'running'`)
      .andWhere('j.started_at IS NOT NULL')
      .andWhere(`j.started_at + ((j.definition->>'timeoutMinutes')::float * interval '1 minute') < :now`, { now })
      .getMany();
  }

  /** Jobs waiting for an attempt that timed out: its job.cancel may not have reached the bus. */
  timedOutAwaitingRetry(): Promise<JobEntity[]> {
    return this.ds
      .getRepository(JobEntity)
      .createQueryBuilder('j')
      .innerJoin(AttemptEntity, 'a', 'a.job_id = j.id AND a.attempt = j.attempt')
      .where(`j.status = 'retry_wait'`)
      .andWhere(`a.status = 'timed_out'`)
      .getMany();
  }

  /**
   * Decides the run's outcome once every job is terminal; false if already decided or jobs remain.
   * `spend` is the run's share of the instances destroyed so far, read under the run's lock, so an
   * instance.destroyed handled meanwhile either is in it or updates the summary after (RunSpendStore.record).
   */
  async closeRun(runId: string, decide: (run: RunEntity, jobs: JobEntity[], spend: number) => Partial<RunEntity>): Promise<RunEntity | null> {
    return this.ds.transaction(async (em) => {
      const run = await em.getRepository(RunEntity).findOne({ where: { id: runId }, lock: { mode: 'pessimistic_write' } });
      if (!run || run.status !== 'running') return null;
      // A study's run grows trial by trial: it closes once the study has decided it is done.
      if ((await em.query(`SELECT 1 FROM scheduler.studies WHERE id = $1 AND status = 'running'`, [runId])).length) return null;
      // Asked of the (run_id, status) index, one row at most: every job event asks, and the jobs are loaded only once the run is done.
      const open = await em.query(`SELECT 1 FROM scheduler.jobs WHERE run_id = $1 AND status IN (${inList(OPEN_JOB_STATES)}) LIMIT 1`, [runId]);
      if (open.length) return null;
      const jobs = await em.getRepository(JobEntity).find({ where: { runId }, order: { symbol: 'ASC' } });
      Object.assign(run, decide(run, jobs, await runSpend(em, runId)));
      await em.getRepository(RunEntity).save(run);
      return run;
    });
  }

  /**
   * Puts a failed or cancelled job back in the queue as a new attempt, with one more attempt allowed,
   * and reopens its run; null when the job is not in such a state.
   */
  async reopenJob(jobId: string, now: Date): Promise<JobEntity | null> {
    return this.ds.transaction(async (em) => {
      const job = await em.getRepository(JobEntity).findOne({ where: { id: jobId }, lock: { mode: 'pessimistic_write' } });
      if (!job || !TERMINAL_JOB_STATES.has(job.status) || !canTransitionJob(job.status, 'retry_wait')) return null;
      const run = await em.getRepository(RunEntity).findOne({ where: { id: job.runId }, lock: { mode: 'pessimistic_write' } });
      Object.assign(job, { status: 'retry_wait', nextAttemptAt: now, maxAttempts: job.attempt + 1, finishedAt: null, progress: null });
      await em.getRepository(JobEntity).save(job);
      if (run && run.status !== 'running') {
        Object.assign(run, { status: 'running', completedAt: null, completionPublished: false, summary: null, startedAt: run.startedAt ?? now });
        await em.getRepository(RunEntity).save(run);
      }
      return job;
    });
  }

  /** Ledger entries of these symbols for one data date. */
  ledgerFor(date: string, symbols: string[]): Promise<LedgerEntryEntity[]> {
    if (symbols.length === 0) return Promise.resolve([]);
    return this.ds.getRepository(LedgerEntryEntity).find({ where: { date, symbol: In(symbols) } });
  }

  /** Records a training's outcome; a failure never overwrites an earlier success. */
  async recordOutcome(em: EntityManager, entry: Omit<LedgerEntryEntity, 'recordedAt'>, at: Date): Promise<void> {
    await em.query(
      `INSERT INTO scheduler.ledger (date, symbol, training_hash, outcome, job_id, attempt, artifacts_prefix, checkpoint, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (date, symbol, training_hash) DO UPDATE SET
         outcome = EXCLUDED.outcome, job_id = EXCLUDED.job_id, attempt = EXCLUDED.attempt,
         artifacts_prefix = EXCLUDED.artifacts_prefix, checkpoint = EXCLUDED.checkpoint, recorded_at = EXCLUDED.recorded_at
       WHERE scheduler.ledger.outcome <> 'succeeded' OR EXCLUDED.outcome = 'succeeded'`,
      [entry.date, entry.symbol, entry.trainingHash, entry.outcome, entry.jobId, entry.attempt, entry.artifactsPrefix, entry.checkpoint ? JSON.stringify(entry.checkpoint) : null, at],
    );
  }

  /**
   * Marks run.completed as published. `then` runs under the run's lock with the stored run: spend
   * recorded since the summary was written is in it, and later spend waits for this to commit.
   */
  async markCompletionPublished(runId: string, summaryUri: string | null, then?: (run: RunEntity) => Promise<void>): Promise<void> {
    await this.ds.transaction(async (em) => {
      const run = await em.getRepository(RunEntity).findOne({ where: { id: runId }, lock: { mode: 'pessimistic_write' } });
      if (!run) return;
      await em.getRepository(RunEntity).update({ id: runId }, { completionPublished: true, summaryUri });
      Object.assign(run, { completionPublished: true, summaryUri });
      await then?.(run);
    });
  }
}
