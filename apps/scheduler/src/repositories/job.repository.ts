import { Injectable } from '@nestjs/common';
import { DataSource, In, Not, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import {
  ACTIVE_JOB_STATES,
  type Artifact,
  attemptEventSources,
  canTransitionJob,
  TERMINAL_JOB_STATES,
  type CheckpointRef,
  type JobDefinition,
  type JobStatus,
  type Metrics,
  type Priority,
  type JobView,
  type Trigger,
} from '@trainyard/contracts';
import { entityFromRow } from '@trainyard/persistence';
import { attemptKey, BatchedCalls, inJobOrder } from '@trainyard/runtime';
import { AttemptEntity, type AttemptStatus } from './attempt.entity';
import { JobEntity, withTrainingHash } from './job.entity';
import type { Page } from './page';
import { RunEntity } from './run.entity';
import { compareRelease } from './release-order';
import { inList, jobInStates, RECENT_RUNS } from './sql-fragments';

export interface JobFilter {
  status?: JobStatus;
  symbol?: string;
  date?: string;
  priority?: Priority;
  trigger?: Trigger;
  runId?: string;
  limit: number;
  offset: number;
}

interface LeasedAttempt {
  jobId: string;
  attempt: number;
  leaseId: string;
  agentId: string;
  pricePerHour: number;
}

interface SucceededAttempt {
  jobId: string;
  attempt: number;
  done: { startedAt: Date; finishedAt: Date; trainSeconds: number; metrics: Metrics; artifactsPrefix: string; artifacts: Artifact[] };
  recordedAt: Date;
}

interface StartedAttempt {
  jobId: string;
  attempt: number;
  startedAt: Date;
  agentId: string;
  leaseId: string;
  artifactsPrefix: string | null;
  codeVersion: string | null;
}

/** What a start moved, as the scheduler's metrics need it. */
export interface StartedJob {
  releasedAt: Date | null;
  startedAt: Date;
  definition: { priority: string };
}

/** A job as job.succeeded left it: what the lifecycle needs of it. */
export type SucceededJob = Pick<JobEntity, 'id' | 'attempt' | 'runId' | 'definition' | 'artifactsPrefix' | 'checkpoint'> & { startedAt: Date; finishedAt: Date };

/** A run's jobs counted by status, with what their leases cost. */
export interface JobTally {
  jobs: Record<string, number>;
  cost: number;
}

/**
 * The jobs and their attempts. Every change that races with another handler locks the job's row, or
 * is one conditional statement on it (job.leased, job.started, job.succeeded); a release locks the
 * run's row, so two handlers never over-release.
 */
@Injectable()
export class JobRepository {
  private readonly leases = new BatchedCalls<LeasedAttempt, void>((items) => this.markLeasedBatch(items), { key: attemptKey, repeated: undefined });
  private readonly starts = new BatchedCalls<StartedAttempt, StartedJob | null>((items) => this.markStartedBatch(items), { key: attemptKey, repeated: null });
  private readonly successes = new BatchedCalls<SucceededAttempt, SucceededJob | null>((items) => this.writeSuccesses(items), { key: attemptKey, repeated: null });

  /** Successes being written by this process, by job: a view asked for meanwhile waits for them (see view). */
  private readonly succeeding = new Map<string, Promise<unknown>>();

  constructor(private readonly ds: DataSource) {}

  find(id: string): Promise<JobEntity | null> {
    return this.ds.getRepository(JobEntity).findOneBy({ id });
  }

  /**
   * A job as queries report it, with how its run's request says its models are promoted (defaults
   * applied; a study's is off): the columns it needs only, in one statement.
   */
  async view(id: string): Promise<JobView | null> {
    const [view] = await this.views([id]);
    return view ?? null;
  }

  /**
   * The views of these jobs that exist, in one statement: the promoter asks for the jobs of the
   * successes it is handling together. It asks as soon as it has a success, which this process is
   * often still writing: the answer waits for that write, where it would say "running" and be asked
   * again 50 ms later.
   */
  async views(ids: string[]): Promise<JobView[]> {
    await Promise.all(ids.map((id) => this.succeeding.get(id)?.catch(() => undefined)));
    return this.ds.query(
      `SELECT j.id AS "jobId", j.run_id AS "runId", j.symbol, j.status, j.attempt, j.max_attempts AS "maxAttempts", j.error_type AS "errorType",
              j.error_message AS "errorMessage", r.request->>'promote' AS promote, (r.request->>'canary')::boolean AS canary
         FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE j.id = ANY($1::text[])`,
      [ids],
    );
  }

  ofRun(runId: string): Promise<JobEntity[]> {
    return this.ds.getRepository(JobEntity).find({ where: { runId }, order: { symbol: 'ASC' } });
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
   * Answers the run's trace context with the jobs, for their requests to carry. One call of
   * scheduler.release_waiting (migration ReleaseInOneCall): the lock, then the release on a snapshot
   * taken after it, in one round trip instead of a transaction's four.
   */
  async claimReleasable(runId: string, now: Date): Promise<{ jobs: JobEntity[]; traceContext: Record<string, string> | null }> {
    const rows: Record<string, unknown>[] = await this.ds.query(`SELECT (r.released_job).*, r.run_trace AS "__runTrace" FROM scheduler.release_waiting($1, $2, $3::text[]) r`, [
      runId,
      now,
      [...ACTIVE_JOB_STATES],
    ]);
    return {
      jobs: rows.map((row) => entityFromRow(this.ds, JobEntity, row)).sort(compareRelease),
      traceContext: (rows[0]?.__runTrace as Record<string, string> | null | undefined) ?? null,
    };
  }

  /**
   * job.leased: the lease's price is the attempt's in any state short of an end (a job.started handled
   * first included); the job and its attempt row move to leased only where the state machine lets the
   * attempt's own event move it. The leases reported meanwhile are applied together, in one
   * statement; under concurrent changes the conditions are evaluated on the rows as last committed.
   */
  markLeased(jobId: string, attempt: number, lease: { leaseId: string; agentId: string; pricePerHour: number }): Promise<void> {
    return this.leases.call({ jobId, attempt, ...lease });
  }

  private async markLeasedBatch(batch: LeasedAttempt[]): Promise<void[]> {
    const items = inJobOrder(batch);
    const from = inList(attemptEventSources('leased'));
    await this.ds.query(
      `WITH r AS (SELECT * FROM unnest($1::text[], $2::int[], $3::float8[], $4::text[], $5::text[]) AS r(id, attempt, price, lease_id, agent_id)),
       j AS (
         UPDATE scheduler.jobs j SET price_per_hour = r.price,
           lease_id = CASE WHEN j.status IN (${from}) THEN r.lease_id ELSE j.lease_id END,
           agent_id = CASE WHEN j.status IN (${from}) THEN r.agent_id ELSE j.agent_id END,
           status = CASE WHEN j.status IN (${from}) THEN 'leased' ELSE j.status END,
           updated_at = now()
         FROM r WHERE j.id = r.id AND j.attempt = r.attempt AND j.status NOT IN (${inList(TERMINAL_JOB_STATES)})
         RETURNING j.id, j.attempt, j.status, r.lease_id, r.agent_id)
       UPDATE scheduler.attempts a SET status = 'leased', lease_id = j.lease_id, agent_id = j.agent_id FROM j WHERE j.status = 'leased' AND a.job_id = j.id AND a.attempt = j.attempt`,
      [items.map((i) => i.jobId), items.map((i) => i.attempt), items.map((i) => i.pricePerHour), items.map((i) => i.leaseId), items.map((i) => i.agentId)],
    );
    return batch.map(() => undefined);
  }

  /**
   * job.started: the job and its attempt row move to running where the state machine allows; what
   * moved, or null. The attempt keeps the trainer's code version it reports even when nothing moves
   * (a start arriving after its outcome), unless it has one. The starts reported meanwhile are
   * applied together, in one statement.
   */
  markStarted(jobId: string, attempt: number, at: { startedAt: Date; agentId: string; leaseId: string; artifactsPrefix: string | null; codeVersion: string | null }): Promise<StartedJob | null> {
    return this.starts.call({ jobId, attempt, ...at });
  }

  private async markStartedBatch(batch: StartedAttempt[]): Promise<(StartedJob | null)[]> {
    const items = inJobOrder(batch);
    const rows: { id: string; attempt: number; released_at: Date | null; started_at: Date; priority: string }[] = await this.ds.query(
      `WITH r AS (SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[]) AS r(id, attempt, started_at, agent_id, lease_id, artifacts_prefix, code_version)),
       j AS (
         UPDATE scheduler.jobs j SET status = 'running', started_at = r.started_at, agent_id = r.agent_id, lease_id = r.lease_id, updated_at = now()
         FROM r WHERE j.id = r.id AND j.attempt = r.attempt AND ${jobInStates('j', attemptEventSources('running'))}
         RETURNING j.id, j.attempt, j.released_at, j.started_at, j.definition->>'priority' AS priority, r.agent_id, r.lease_id, r.artifacts_prefix, r.code_version),
       a AS (
         UPDATE scheduler.attempts a SET status = 'running', started_at = j.started_at, agent_id = j.agent_id, lease_id = j.lease_id, artifacts_prefix = j.artifacts_prefix,
                code_version = coalesce(a.code_version, j.code_version)
         FROM j WHERE a.job_id = j.id AND a.attempt = j.attempt),
       v AS (
         UPDATE scheduler.attempts a SET code_version = r.code_version
         FROM r WHERE a.job_id = r.id AND a.attempt = r.attempt AND a.code_version IS NULL AND r.code_version IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM j WHERE j.id = r.id AND j.attempt = r.attempt))
       SELECT id, attempt, released_at, started_at, priority FROM j`,
      [
        items.map((i) => i.jobId),
        items.map((i) => i.attempt),
        items.map((i) => i.startedAt),
        items.map((i) => i.agentId),
        items.map((i) => i.leaseId),
        items.map((i) => i.artifactsPrefix),
        items.map((i) => i.codeVersion),
      ],
    );
    const moved = new Map(rows.map((row) => [attemptKey({ jobId: row.id, attempt: row.attempt }), row]));
    return batch.map((i) => {
      const row = moved.get(attemptKey(i));
      return row ? { releasedAt: row.released_at, startedAt: row.started_at, definition: { priority: row.priority } } : null;
    });
  }

  /**
   * job.succeeded in one conditional statement: the job, its attempt row and the ledger's entry for
   * what it trained (a success overwrites a failure, never the other way), so no transaction spans
   * two. The job as it now stands, what the caller needs of it, or null for a stale or repeated event.
   * The successes reported meanwhile are written together, in one statement; two of one training
   * (the same ledger entry) cannot share it, and such a batch is written again success by success.
   */
  async markSucceeded(jobId: string, attempt: number, done: SucceededAttempt['done'], recordedAt: Date): Promise<SucceededJob | null> {
    const writing = this.successes.call({ jobId, attempt, done, recordedAt });
    this.succeeding.set(jobId, writing);
    try {
      return await writing;
    } finally {
      if (this.succeeding.get(jobId) === writing) this.succeeding.delete(jobId);
    }
  }

  private async writeSuccesses(batch: SucceededAttempt[]): Promise<(SucceededJob | null)[]> {
    const items = inJobOrder(batch);
    const rows: Array<{ id: string; attempt: number; run_id: string; started_at: Date; finished_at: Date; definition: JobDefinition; checkpoint: CheckpointRef | null }> = await this.ds.query(
      `WITH r AS (
         SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[], $5::float8[], $6::jsonb[], $7::text[], $8::float8[], $9::jsonb[], $10::timestamptz[])
           AS r(id, attempt, started_at, finished_at, train_seconds, metrics, artifacts_prefix, priced_ms, artifacts, recorded_at)),
       j AS (
         UPDATE scheduler.jobs j SET status = 'succeeded', started_at = coalesce(j.started_at, r.started_at), finished_at = r.finished_at, train_seconds = r.train_seconds,
                metrics = r.metrics, artifacts_prefix = r.artifacts_prefix, error_type = NULL, error_message = NULL, cost = j.price_per_hour * r.priced_ms / 3600000, updated_at = now()
         FROM r WHERE j.id = r.id AND j.attempt = r.attempt AND ${jobInStates('j', attemptEventSources('succeeded'))}
         RETURNING j.id, j.attempt, j.run_id, j.started_at, j.finished_at, j.definition, j.checkpoint, j.training_hash, r.artifacts_prefix, r.recorded_at),
       -- What the attempt reported is kept for tracking even when the job has moved on (a fenced attempt's success).
       a AS (
         UPDATE scheduler.attempts a SET metrics = r.metrics, artifacts = r.artifacts,
                status = CASE WHEN j.id IS NOT NULL THEN 'succeeded' ELSE a.status END,
                finished_at = CASE WHEN j.id IS NOT NULL THEN r.finished_at ELSE a.finished_at END
         FROM r LEFT JOIN j ON j.id = r.id AND j.attempt = r.attempt
         WHERE a.job_id = r.id AND a.attempt = r.attempt),
       l AS (
         INSERT INTO scheduler.ledger (date, symbol, training_hash, outcome, job_id, attempt, artifacts_prefix, checkpoint, recorded_at)
         SELECT j.definition->>'date', j.definition->>'symbol', j.training_hash, 'succeeded', j.id, j.attempt, j.artifacts_prefix, j.checkpoint, j.recorded_at FROM j
         ON CONFLICT (date, symbol, training_hash) DO UPDATE SET
           outcome = EXCLUDED.outcome, job_id = EXCLUDED.job_id, attempt = EXCLUDED.attempt,
           artifacts_prefix = EXCLUDED.artifacts_prefix, checkpoint = EXCLUDED.checkpoint, recorded_at = EXCLUDED.recorded_at)
       SELECT id, attempt, run_id, started_at, finished_at, definition, checkpoint FROM j`,
      [
        items.map((i) => i.jobId),
        items.map((i) => i.attempt),
        items.map((i) => i.done.startedAt),
        items.map((i) => i.done.finishedAt),
        items.map((i) => i.done.trainSeconds),
        items.map((i) => JSON.stringify(i.done.metrics)),
        items.map((i) => i.done.artifactsPrefix),
        // The lease's price for the attempt's own time, as the agent measured it.
        items.map((i) => Math.max(0, i.done.finishedAt.getTime() - i.done.startedAt.getTime())),
        items.map((i) => JSON.stringify(i.done.artifacts)),
        items.map((i) => i.recordedAt),
      ],
    );
    const written = new Map(rows.map((row) => [attemptKey({ jobId: row.id, attempt: row.attempt }), row]));
    return batch.map((i) => {
      const row = written.get(attemptKey(i));
      return row
        ? {
            id: i.jobId,
            attempt: i.attempt,
            runId: row.run_id,
            startedAt: row.started_at,
            finishedAt: row.finished_at,
            definition: row.definition,
            artifactsPrefix: i.done.artifactsPrefix,
            checkpoint: row.checkpoint,
          }
        : null;
    });
  }

  /**
   * Applies a change to one job under a row lock, only if the event is about its current attempt;
   * `change` returns false to leave the job as it is (a stale or duplicate event).
   */
  async update(jobId: string, attempt: number, change: (job: JobEntity, em: EntityManager) => boolean | Promise<boolean>): Promise<JobEntity | null> {
    return this.ds.transaction(async (em) => {
      const job = await em.getRepository(JobEntity).findOne({ where: { id: jobId }, lock: { mode: 'pessimistic_write' } });
      if (!job || job.attempt !== attempt) return null;
      const before = this.columnValues(job);
      if (!(await change(job, em))) return null;
      // Only the columns the change touched, in one UPDATE: save() would read the row again to find them.
      const after = this.columnValues(job);
      const changed: Record<string, unknown> = {};
      for (const [column, value] of after) if (value !== before.get(column)) changed[column] = job[column as keyof JobEntity];
      if (Object.keys(changed).length) await em.getRepository(JobEntity).update({ id: job.id }, changed as QueryDeepPartialEntity<JobEntity>);
      return job;
    });
  }

  /** Each stored column of the job in a form `===` compares: a time as its number, JSON as its text. */
  private columnValues(job: JobEntity): Map<string, unknown> {
    const values = new Map<string, unknown>();
    for (const { propertyName } of this.ds.getMetadata(JobEntity).columns) {
      if (propertyName === 'updatedAt') continue;
      const v: unknown = job[propertyName as keyof JobEntity];
      values.set(propertyName, v instanceof Date ? v.getTime() : v !== null && typeof v === 'object' ? JSON.stringify(v) : v);
    }
    return values;
  }

  async updateAttempt(em: EntityManager, jobId: string, attempt: number, fields: Partial<AttemptEntity> & { status: AttemptStatus }): Promise<void> {
    await em.getRepository(AttemptEntity).update({ jobId, attempt }, fields);
  }

  /** Ends an attempt whose row is still open (requested, leased, running); false when it had ended. */
  async closeOpenAttempt(jobId: string, attempt: number, fields: Partial<AttemptEntity> & { status: AttemptStatus }): Promise<boolean> {
    const r = await this.ds.getRepository(AttemptEntity).update({ jobId, attempt, status: In(['requested', 'leased', 'running']) }, fields);
    return (r.affected ?? 0) > 0;
  }

  attempts(jobId: string): Promise<AttemptEntity[]> {
    return this.ds.getRepository(AttemptEntity).find({ where: { jobId }, order: { attempt: 'ASC' } });
  }

  /** Jobs released but never leased for a while: their job.requested may have been lost with a crash. */
  staleReleases(olderThan: Date): Promise<JobEntity[]> {
    return this.ds.getRepository(JobEntity).createQueryBuilder('j').where(`j.status = 'released'`).andWhere('j.released_at < :olderThan', { olderThan }).getMany();
  }

  /**
   * Jobs running past their timeout, counted from the current attempt's start (job.started; release
   * clears it). A job released or leased but not yet started is waiting for a slot, not overdue.
   */
  overdue(now: Date): Promise<JobEntity[]> {
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
   * Puts a failed or cancelled job back in the queue as a new attempt, with one more attempt allowed,
   * and reopens its run; null when the job is not in such a state.
   */
  async reopen(jobId: string, now: Date): Promise<JobEntity | null> {
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

  /** Inserts a job in the caller's transaction (a study's trial). */
  async insert(job: QueryDeepPartialEntity<JobEntity>, em: EntityManager): Promise<void> {
    await em.getRepository(JobEntity).insert(withTrainingHash(job));
  }

  async list(q: JobFilter): Promise<Page<JobEntity>> {
    const qb = this.ds.getRepository(JobEntity).createQueryBuilder('j').innerJoin(RunEntity, 'r', 'r.id = j.run_id').orderBy('j.runId', 'ASC').addOrderBy('j.symbol', 'ASC');
    if (q.status) qb.andWhere('j.status = :status', { status: q.status });
    if (q.symbol) qb.andWhere('j.symbol = :symbol', { symbol: q.symbol });
    if (q.date) qb.andWhere('r.date = :date', { date: q.date });
    if (q.priority) qb.andWhere(`j.definition->>'priority' = :priority`, { priority: q.priority });
    if (q.trigger) qb.andWhere('r.trigger = :trigger', { trigger: q.trigger });
    if (q.runId) qb.andWhere('j.run_id = :runId', { runId: q.runId });
    const [items, total] = await qb.take(q.limit).skip(q.offset).getManyAndCount();
    return { items, total, limit: q.limit, offset: q.offset };
  }

  /** The run's jobs counted by status. */
  async countsByStatus(runId: string): Promise<Record<string, number>> {
    const rows: { status: string; n: number }[] = await this.ds.query(`SELECT status, count(*)::int AS n FROM scheduler.jobs WHERE run_id = $1 GROUP BY status`, [runId]);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Each run's jobs counted by status, with their work cost; a run with no jobs has no entry. */
  async tallies(runIds: string[]): Promise<Map<string, JobTally>> {
    const tallies = new Map<string, JobTally>();
    if (runIds.length === 0) return tallies;
    const rows: { run_id: string; status: string; n: number; cost: number }[] = await this.ds.query(
      `SELECT run_id, status, count(*)::int AS n, coalesce(sum(cost), 0)::float AS cost FROM scheduler.jobs WHERE run_id = ANY($1) GROUP BY run_id, status`,
      [runIds],
    );
    for (const r of rows) {
      const t = tallies.get(r.run_id) ?? { jobs: {}, cost: 0 };
      t.jobs[r.status] = r.n;
      t.cost += r.cost;
      tallies.set(r.run_id, t);
    }
    return tallies;
  }

  /** What the run's jobs' leases cost (its work, the figure its summary's `cost` adds up). */
  async workCost(runId: string): Promise<number> {
    // An aggregate without GROUP BY answers one row; the default is what it holds for no jobs.
    const [{ cost } = { cost: 0 }]: { cost: number }[] = await this.ds.query(`SELECT coalesce(sum(cost), 0)::float AS cost FROM scheduler.jobs WHERE run_id = $1`, [runId]);
    return Math.round(cost * 1e6) / 1e6;
  }

  /** The unfinished jobs of these runs, with what an ETA reads of them. */
  open(runIds: string[]): Promise<Pick<JobEntity, 'runId' | 'status' | 'expectedSeconds' | 'progress'>[]> {
    if (runIds.length === 0) return Promise.resolve([]);
    return this.ds.getRepository(JobEntity).find({
      select: { runId: true, status: true, expectedSeconds: true, progress: true },
      where: { runId: In(runIds), status: Not(In([...TERMINAL_JOB_STATES])) },
    });
  }

  /** Slots held by jobs of any run: leased or running. */
  async slotsHeld(): Promise<number> {
    const [{ n } = { n: 0 }]: { n: number }[] = await this.ds.query(`SELECT count(*)::int AS n FROM scheduler.jobs WHERE status IN ('leased', 'running')`);
    return n;
  }

  /** What jobs finished since `since` cost, how many they were, their train hours and how many runs they belong to. */
  async finishedSince(since: Date): Promise<{ cost: number; jobs: number; hours: number; runs: number }> {
    // An aggregate without GROUP BY answers one row; the default is what it holds for no jobs.
    const [row = { cost: 0, jobs: 0, hours: 0, runs: 0 }]: { cost: number; jobs: number; hours: number; runs: number }[] = await this.ds.query(
      `SELECT coalesce(sum(cost), 0)::float AS cost, count(*)::int AS jobs, coalesce(sum(train_seconds), 0)::float / 3600 AS hours, count(DISTINCT run_id)::int AS runs
       FROM scheduler.jobs WHERE finished_at >= $1`,
      [since],
    );
    return row;
  }

  /** Jobs of runs of data dates from `since` on: by status, train minutes of the successes, and outcomes per date. */
  async stats(since: string) {
    const byStatus: { status: string; n: number }[] = await this.ds.query(
      `SELECT j.status, count(*)::int AS n FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE r.date >= $1 GROUP BY j.status ORDER BY j.status`,
      [since],
    );
    const [durations]: { avg: number | null; median: number | null; p95: number | null }[] = await this.ds.query(
      `SELECT avg(train_seconds)::float / 60 AS avg,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY train_seconds)::float / 60 AS median,
              percentile_cont(0.95) WITHIN GROUP (ORDER BY train_seconds)::float / 60 AS p95
       FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE j.status = 'succeeded' AND r.date >= $1`,
      [since],
    );
    const perDate: { date: string; succeeded: number; failed: number }[] = await this.ds.query(
      `SELECT r.date, count(*) FILTER (WHERE j.status = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE j.status = 'failed')::int AS failed
       FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE r.date >= $1 GROUP BY r.date ORDER BY r.date`,
      [since],
    );
    return { byStatus, trainMinutes: { avg: durations?.avg ?? null, median: durations?.median ?? null, p95: durations?.p95 ?? null }, perDate };
  }

  /** Jobs by state, of runs running or created in the last day (the metrics' gauge). */
  countsByStateRecent(): Promise<{ state: string; n: number }[]> {
    return this.ds.query(`SELECT j.status AS state, count(*)::int AS n FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE ${RECENT_RUNS} GROUP BY j.status`);
  }

  /** Jobs of running runs waiting to be released (pending, or a retry due or waiting), by priority. */
  queueDepth(): Promise<{ priority: string; n: number }[]> {
    return this.ds.query(
      `SELECT j.definition->>'priority' AS priority, count(*)::int AS n FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id
       WHERE r.status = 'running' AND j.status IN ('pending', 'retry_wait') GROUP BY 1`,
    );
  }
}
