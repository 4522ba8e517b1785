import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { DECIDED_RUN_STATES, type RunState, type Trigger, type Variant } from '@trainyard/contracts';
import { JobEntity, withTrainingHash } from './job.entity';
import type { Page } from './page';
import { runSpend } from './run-spend.repository';
import { RunEntity } from './run.entity';
import { inList, OPEN_JOB_STATES, RECENT_RUNS } from './sql-fragments';

/**
 * PostgreSQL takes at most 65,535 parameters in one statement and a job row has a dozen, so a run's
 * jobs go in by the thousand (one INSERT would fail from about 5,500 jobs).
 */
const JOBS_PER_INSERT = 1000;

/** What a run's summary reads of each of its jobs: no definition (a run of 5,000 would load megabytes of it) but its variant. */
export type JobOutcome = Pick<JobEntity, 'id' | 'symbol' | 'status' | 'attempt' | 'trainSeconds' | 'cost' | 'metrics' | 'errorType' | 'errorMessage'> & {
  variant: Variant | null;
};

export interface RunFilter {
  status?: RunState;
  date?: string;
  trigger?: Trigger;
  limit: number;
  offset: number;
}

/** The runs table: a run's row from its request to its summary. Changes that race lock the run's row. */
@Injectable()
export class RunRepository {
  constructor(private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  find(id: string): Promise<RunEntity | null> {
    return this.ds.getRepository(RunEntity).findOneBy({ id });
  }

  /** Inserts a run with its planned jobs; false when the run already exists (a duplicate request). */
  async create(run: QueryDeepPartialEntity<RunEntity>, jobs: QueryDeepPartialEntity<JobEntity>[]): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      if (!(await this.insert(run, em))) return false;
      for (let i = 0; i < jobs.length; i += JOBS_PER_INSERT) await em.getRepository(JobEntity).insert(jobs.slice(i, i + JOBS_PER_INSERT).map(withTrainingHash));
      return true;
    });
  }

  /** Inserts a run in the caller's transaction (a study's, whose jobs come trial by trial); false when it exists. */
  async insert(run: QueryDeepPartialEntity<RunEntity>, em: EntityManager): Promise<boolean> {
    const inserted = await em.createQueryBuilder().insert().into(RunEntity).values(run).orIgnore().returning('id').execute();
    return inserted.raw.length > 0;
  }

  runningIds(): Promise<string[]> {
    return this.ds
      .getRepository(RunEntity)
      .find({ select: { id: true }, where: { status: 'running' } })
      .then((rows) => rows.map((r) => r.id));
  }

  /** Runs still running, oldest first. */
  running(): Promise<RunEntity[]> {
    return this.ds.getRepository(RunEntity).find({ where: { status: 'running' }, order: { createdAt: 'ASC' } });
  }

  /** The latest runs, newest first. */
  recent(limit: number): Promise<RunEntity[]> {
    return this.ds.getRepository(RunEntity).find({ order: { createdAt: 'DESC', id: 'ASC' }, take: limit });
  }

  async list(q: RunFilter): Promise<Page<RunEntity>> {
    const qb = this.ds.getRepository(RunEntity).createQueryBuilder('r').orderBy('r.createdAt', 'DESC').addOrderBy('r.id', 'ASC');
    if (q.status) qb.andWhere('r.status = :status', { status: q.status });
    if (q.date) qb.andWhere('r.date = :date', { date: q.date });
    if (q.trigger) qb.andWhere('r.trigger = :trigger', { trigger: q.trigger });
    const [items, total] = await qb.take(q.limit).skip(q.offset).getManyAndCount();
    return { items, total, limit: q.limit, offset: q.offset };
  }

  /** Runs by state, of those running or created in the last day (the metrics' gauge). */
  countsByStateRecent(): Promise<{ state: string; n: number }[]> {
    return this.ds.query(`SELECT r.status AS state, count(*)::int AS n FROM scheduler.runs r WHERE ${RECENT_RUNS} GROUP BY r.status`);
  }

  /**
   * Whether the reconciler has anything to look at: a running run, a decided one whose run.completed
   * is owed, or an open job. An idle scheduler asks this once a tick instead of its four scans.
   */
  async needsReconciling(): Promise<boolean> {
    const [row]: { busy: boolean }[] = await this.ds.query(
      `SELECT EXISTS (SELECT 1 FROM scheduler.runs WHERE status = 'running' OR (NOT completion_published AND status IN (${inList(DECIDED_RUN_STATES)})))
           OR EXISTS (SELECT 1 FROM scheduler.jobs WHERE status IN (${inList(OPEN_JOB_STATES)})) AS busy`,
    );
    return row?.busy ?? true;
  }

  /** Runs whose outcome is decided but whose run.completed may not have reached the bus. */
  unpublishedCompletions(): Promise<RunEntity[]> {
    return this.ds.getRepository(RunEntity).find({ where: { completionPublished: false, status: In([...DECIDED_RUN_STATES]) } });
  }

  /**
   * Decides the run's outcome once every job is terminal; null if already decided or jobs remain.
   * `spend` is the run's share of the instances destroyed so far, read under the run's lock, so an
   * instance.destroyed handled meanwhile either is in it or updates the summary after (RunSpendRepository.record).
   */
  async close(runId: string, decide: (run: RunEntity, jobs: JobOutcome[], spend: number) => Partial<RunEntity>): Promise<RunEntity | null> {
    // Most job events leave jobs open: one read without a transaction or lock says so. A job that ends
    // after it has its own handler ask again, and the locked read below decides.
    if (await this.hasOpenJobs(this.ds.manager, runId)) return null;
    return this.ds.transaction(async (em) => {
      const run = await em.getRepository(RunEntity).findOne({ where: { id: runId }, lock: { mode: 'pessimistic_write' } });
      if (!run || run.status !== 'running') return null;
      // A study's run grows trial by trial: it closes once the study has decided it is done.
      if ((await em.query(`SELECT 1 FROM scheduler.studies WHERE id = $1 AND status = 'running'`, [runId])).length) return null;
      if (await this.hasOpenJobs(em, runId)) return null;
      const jobs: JobOutcome[] = await em.query(
        `SELECT id, symbol, status, attempt, train_seconds AS "trainSeconds", cost, metrics, error_type AS "errorType", error_message AS "errorMessage", definition->>'variant' AS variant
           FROM scheduler.jobs WHERE run_id = $1 ORDER BY symbol, id`,
        [runId],
      );
      Object.assign(run, decide(run, jobs, await runSpend(em, runId)));
      await em.getRepository(RunEntity).save(run);
      return run;
    });
  }

  /** Asked of the (run_id, status) index, one row at most: the jobs are loaded only once the run is done. */
  private async hasOpenJobs(em: EntityManager, runId: string): Promise<boolean> {
    const open: unknown[] = await em.query(`SELECT 1 FROM scheduler.jobs WHERE run_id = $1 AND status IN (${inList(OPEN_JOB_STATES)}) LIMIT 1`, [runId]);
    return open.length > 0;
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
