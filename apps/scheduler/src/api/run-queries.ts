import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AttemptEntity } from '../runs/attempt.entity';
import { JobEntity } from '../runs/job.entity';
import { runSpend } from '../runs/run-spend.store';
import { RunEntity } from '../runs/run.entity';
import type { ListJobsQuery, ListRunsQuery } from './api-schemas';

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** Read-only views for the API: lists with filters, a run with its job counts, statistics. */
@Injectable()
export class RunQueries {
  constructor(private readonly ds: DataSource) {}

  async listRuns(q: ListRunsQuery): Promise<Page<RunEntity>> {
    const qb = this.ds.getRepository(RunEntity).createQueryBuilder('r').orderBy('r.createdAt', 'DESC').addOrderBy('r.id', 'ASC');
    if (q.status) qb.andWhere('r.status = :status', { status: q.status });
    if (q.date) qb.andWhere('r.date = :date', { date: q.date });
    if (q.trigger) qb.andWhere('r.trigger = :trigger', { trigger: q.trigger });
    const [items, total] = await qb.take(q.limit).skip(q.offset).getManyAndCount();
    return { items, total, limit: q.limit, offset: q.offset };
  }

  async listJobs(q: ListJobsQuery): Promise<Page<JobEntity>> {
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

  async jobCounts(runId: string): Promise<Record<string, number>> {
    const rows: { status: string; n: number }[] = await this.ds.query(`SELECT status, count(*)::int AS n FROM scheduler.jobs WHERE run_id = $1 GROUP BY status`, [runId]);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Work (the jobs' leases) and spend (the run's share of the instances destroyed so far). */
  async costOf(runId: string): Promise<{ cost: number; spend: number }> {
    // An aggregate without GROUP BY answers one row; the default is what it holds for no jobs.
    const [{ cost } = { cost: 0 }]: { cost: number }[] = await this.ds.query(`SELECT coalesce(sum(cost), 0)::float AS cost FROM scheduler.jobs WHERE run_id = $1`, [runId]);
    return { cost: Math.round(cost * 1e6) / 1e6, spend: await runSpend(this.ds, runId) };
  }

  attempts(jobId: string): Promise<AttemptEntity[]> {
    return this.ds.getRepository(AttemptEntity).find({ where: { jobId }, order: { attempt: 'ASC' } });
  }

  /** Jobs by status, train durations, and the success rate per data date over the last `days`. */
  async stats(days: number, now: Date) {
    const since = new Date(now.getTime() - days * 86_400_000).toISOString().slice(0, 10);
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
    const perDay: { date: string; succeeded: number; failed: number }[] = await this.ds.query(
      `SELECT r.date, count(*) FILTER (WHERE j.status = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE j.status = 'failed')::int AS failed
       FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id WHERE r.date >= $1 GROUP BY r.date ORDER BY r.date`,
      [since],
    );
    return {
      since,
      jobsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      trainMinutes: { avg: durations?.avg ?? null, median: durations?.median ?? null, p95: durations?.p95 ?? null },
      successRateByDate: perDay.map((d) => ({ ...d, successRate: d.succeeded + d.failed ? d.succeeded / (d.succeeded + d.failed) : null })),
    };
  }
}
