import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** The jobs one pass removes, with the files of their attempts that never made a model. */
export interface ExpiredJobs {
  jobIds: string[];
  /** Artifact prefixes of attempts that did not succeed and that no succeeded attempt or job shares. */
  failedPrefixes: string[];
}

export interface DeletedRows {
  jobs: number;
  attempts: number;
  metricPoints: number;
  ledger: number;
  runs: number;
}

export interface RetentionPassRow {
  day: string;
  startedAt: Date;
  finishedAt: Date | null;
  report: unknown;
}

const BATCH = 1000;

/**
 * Every delete of the scheduler's records, so that a record dies in one place. A job whose attempt's
 * model is or was in production (`in_production`, from model.promoted and model.rolled_back) is never
 * selected, and neither is a job of a run still running or of a study (its trials are the study's record).
 */
@Injectable()
export class RetentionStore {
  constructor(private readonly ds: DataSource) {}

  /** Attempts whose log retention has passed, never one whose model is or was in production; 500 a pass. */
  logsOlderThan(finishedBefore: Date): Promise<{ jobId: string; attempt: number; artifactsPrefix: string }[]> {
    return this.ds.query(
      `SELECT job_id AS "jobId", attempt, artifacts_prefix AS "artifactsPrefix" FROM scheduler.attempts
        WHERE finished_at < $1 AND log_deleted_at IS NULL AND artifacts_prefix IS NOT NULL AND NOT in_production
        ORDER BY finished_at LIMIT 500`,
      [finishedBefore],
    );
  }

  async markLogDeleted(jobId: string, attempt: number, at: Date): Promise<void> {
    await this.ds.query(`UPDATE scheduler.attempts SET log_deleted_at = $3 WHERE job_id = $1 AND attempt = $2`, [jobId, attempt, at]);
  }

  /** Removes the tracked data (series, mirror state) of failed attempts finished before the cutoff; the attempt's outcome stays. */
  async purgeFailedBefore(finishedBefore: Date, at: Date): Promise<number> {
    return this.ds.transaction(async (em) => {
      const rows: { job_id: string; attempt: number }[] = await em.query(
        `WITH purged AS (
           UPDATE scheduler.attempts SET purged_at = $2
            WHERE (job_id, attempt) IN (
              SELECT job_id, attempt FROM scheduler.attempts
               WHERE status IN ('failed', 'lost', 'timed_out', 'cancelled') AND finished_at < $1 AND purged_at IS NULL AND NOT in_production
               ORDER BY finished_at LIMIT 1000)
            RETURNING job_id, attempt)
         SELECT job_id, attempt FROM purged`,
        [finishedBefore, at],
      );
      if (rows.length === 0) return 0;
      const keys = [rows.map((r) => r.job_id), rows.map((r) => r.attempt)];
      await em.query(`DELETE FROM scheduler.metric_points m USING unnest($1::text[], $2::int[]) AS p(job_id, attempt) WHERE m.job_id = p.job_id AND m.attempt = p.attempt`, keys);
      await em.query(`DELETE FROM scheduler.mlflow_sync m USING unnest($1::text[], $2::int[]) AS p(job_id, attempt) WHERE m.job_id = p.job_id AND m.attempt = p.attempt`, keys);
      return rows.length;
    });
  }

  /**
   * Jobs past their age: succeeded ones ended before `succeededBefore`, failed, cancelled, skipped and
   * dry-run ones before `failedBefore` (a job that never ran is dated by its run). At most 1000 a pass.
   */
  async expiredJobs(succeededBefore: Date, failedBefore: Date): Promise<ExpiredJobs> {
    const jobs: { id: string }[] = await this.ds.query(
      `SELECT j.id FROM scheduler.jobs j JOIN scheduler.runs r ON r.id = j.run_id
        WHERE r.status <> 'running'
          AND NOT EXISTS (SELECT 1 FROM scheduler.studies s WHERE s.id = j.run_id)
          AND NOT EXISTS (SELECT 1 FROM scheduler.attempts a WHERE a.job_id = j.id AND a.in_production)
          AND ((j.status = 'succeeded' AND coalesce(j.finished_at, r.completed_at, r.created_at) < $1)
            OR (j.status IN ('failed', 'cancelled', 'skipped', 'planned') AND coalesce(j.finished_at, r.completed_at, r.created_at) < $2))
        ORDER BY j.id LIMIT ${BATCH}`,
      [succeededBefore, failedBefore],
    );
    const jobIds = jobs.map((j) => j.id);
    if (jobIds.length === 0) return { jobIds, failedPrefixes: [] };
    const prefixes: { prefix: string }[] = await this.ds.query(
      `SELECT DISTINCT a.artifacts_prefix AS prefix FROM scheduler.attempts a JOIN scheduler.jobs j ON j.id = a.job_id
        WHERE a.job_id = ANY($1) AND a.status <> 'succeeded' AND a.artifacts_prefix IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM scheduler.attempts b WHERE b.artifacts_prefix = a.artifacts_prefix AND b.status = 'succeeded')
          AND NOT EXISTS (SELECT 1 FROM scheduler.jobs k WHERE k.artifacts_prefix = a.artifacts_prefix)`,
      [jobIds],
    );
    return { jobIds, failedPrefixes: prefixes.map((p) => p.prefix) };
  }

  /** The jobs' rows and everything that hangs off them, in one transaction. */
  deleteJobs(jobIds: string[]): Promise<Omit<DeletedRows, 'runs'>> {
    return this.ds.transaction(async (em) => {
      const count = async (sql: string) => {
        const [{ n } = { n: 0 }]: { n: number }[] = await em.query(`WITH d AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM d`, [jobIds]);
        return n;
      };
      const metricPoints = await count(`DELETE FROM scheduler.metric_points WHERE job_id = ANY($1)`);
      await em.query(`DELETE FROM scheduler.mlflow_sync WHERE job_id = ANY($1)`, [jobIds]);
      const attempts = await count(`DELETE FROM scheduler.attempts WHERE job_id = ANY($1)`);
      const ledger = await count(`DELETE FROM scheduler.ledger WHERE job_id = ANY($1)`);
      const jobs = await count(`DELETE FROM scheduler.jobs WHERE id = ANY($1)`);
      return { jobs, attempts, metricPoints, ledger };
    });
  }

  /** Finished runs with no job left (all expired, or none planned) created before the cutoff. */
  async emptyRunsBefore(createdBefore: Date): Promise<string[]> {
    const rows: { id: string }[] = await this.ds.query(
      `SELECT r.id FROM scheduler.runs r
        WHERE r.status <> 'running' AND r.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM scheduler.jobs j WHERE j.run_id = r.id)
          AND NOT EXISTS (SELECT 1 FROM scheduler.studies s WHERE s.id = r.id)
        ORDER BY r.id LIMIT ${BATCH}`,
      [createdBefore],
    );
    return rows.map((r) => r.id);
  }

  deleteRuns(runIds: string[]): Promise<number> {
    return this.ds.transaction(async (em) => {
      await em.query(`DELETE FROM scheduler.run_spend WHERE run_id = ANY($1)`, [runIds]);
      const [{ n } = { n: 0 }]: { n: number }[] = await em.query(`WITH d AS (DELETE FROM scheduler.runs WHERE id = ANY($1) RETURNING 1) SELECT count(*)::int AS n FROM d`, [runIds]);
      return n;
    });
  }

  /** Claims the day's pass; false when another replica (or an earlier start) has it. */
  async claimPass(day: string, at: Date): Promise<boolean> {
    const rows = await this.ds.query(`INSERT INTO scheduler.retention_passes (day, started_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING day`, [day, at]);
    return rows.length === 1;
  }

  async finishPass(day: string, at: Date, report: object): Promise<void> {
    await this.ds.query(`UPDATE scheduler.retention_passes SET finished_at = $2, report = $3 WHERE day = $1`, [day, at, JSON.stringify(report)]);
  }

  /** A pass that failed gives its day back, so the next check tries again. */
  async releasePass(day: string): Promise<void> {
    await this.ds.query(`DELETE FROM scheduler.retention_passes WHERE day = $1 AND finished_at IS NULL`, [day]);
  }

  recentPasses(limit: number): Promise<RetentionPassRow[]> {
    return this.ds.query(`SELECT day, started_at AS "startedAt", finished_at AS "finishedAt", report FROM scheduler.retention_passes ORDER BY day DESC LIMIT $1`, [limit]);
  }
}
