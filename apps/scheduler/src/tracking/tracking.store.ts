import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Artifact, JobDefinition, Metrics, MetricPoint } from '@trainyard/contracts';
import type { AttemptStatus } from '../repositories/attempt.entity';

/** An attempt as tracking reads it: the attempt's row with its job's definition. */
export interface TrackedRow {
  jobId: string;
  attempt: number;
  runId: string;
  symbol: string;
  definition: JobDefinition;
  status: AttemptStatus;
  agentId: string | null;
  requestedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  errorType: string | null;
  message: string | null;
  artifactsPrefix: string | null;
  codeVersion: string | null;
  metrics: Metrics | null;
  artifacts: Artifact[] | null;
  inProduction: boolean;
  logDeletedAt: Date | null;
  /** The study the attempt is a trial of, if it is one. */
  studyId: string | null;
}

export interface TrackedRunFilter {
  symbol?: string;
  purpose?: string;
  studyId?: string;
  status?: 'running' | 'finished' | 'failed' | 'killed';
  runId?: string;
  limit: number;
  offset: number;
}

export interface SeriesPoint {
  key: string;
  step: number;
  value: number;
  at: Date;
}

/** How an attempt's status reads as a tracked run's (MLflow's RUNNING / FINISHED / FAILED / KILLED). */
export const RUN_STATUS_OF: Record<AttemptStatus, 'running' | 'finished' | 'failed' | 'killed'> = {
  requested: 'running',
  leased: 'running',
  running: 'running',
  succeeded: 'finished',
  failed: 'failed',
  lost: 'failed',
  timed_out: 'failed',
  cancelled: 'killed',
};
const STATUSES_OF = (status: TrackedRunFilter['status']) => (Object.keys(RUN_STATUS_OF) as AttemptStatus[]).filter((s) => RUN_STATUS_OF[s] === status);

const SELECT = `
  SELECT a.job_id AS "jobId", a.attempt, j.run_id AS "runId", j.symbol, j.definition, a.status, a.agent_id AS "agentId",
         a.requested_at AS "requestedAt", a.started_at AS "startedAt", a.finished_at AS "finishedAt", a.error_type AS "errorType",
         a.message, a.artifacts_prefix AS "artifactsPrefix", a.code_version AS "codeVersion", a.metrics, a.artifacts,
         a.in_production AS "inProduction", a.log_deleted_at AS "logDeletedAt", s.id AS "studyId"
    FROM scheduler.attempts a JOIN scheduler.jobs j ON j.id = a.job_id LEFT JOIN scheduler.studies s ON s.id = j.run_id`;

/** Tracking's reads and writes: the attempts' tracked fields and their metric series. */
@Injectable()
export class TrackingStore {
  constructor(private readonly ds: DataSource) {}

  /** Points of an attempt the scheduler knows, each (metric, step) once however often it is delivered. */
  async recordPoints(jobId: string, attempt: number, points: MetricPoint[]): Promise<void> {
    const rows = points.flatMap((p) => Object.entries(p.values).map(([key, value]) => ({ key, step: p.step, value, at: p.at })));
    if (rows.length === 0) return;
    await this.ds.query(
      `INSERT INTO scheduler.metric_points (job_id, attempt, key, step, value, at)
       SELECT $1, $2, r.key, r.step, r.value, r.at
         FROM unnest($3::text[], $4::int[], $5::float8[], $6::timestamptz[]) AS r(key, step, value, at)
        WHERE EXISTS (SELECT 1 FROM scheduler.attempts WHERE job_id = $1 AND attempt = $2 AND purged_at IS NULL)
       ON CONFLICT DO NOTHING`,
      [jobId, attempt, rows.map((r) => r.key), rows.map((r) => r.step), rows.map((r) => r.value), rows.map((r) => r.at)],
    );
  }

  /** The job's succeeded attempt made the model now in production. */
  async markProduction(jobId: string): Promise<void> {
    await this.ds.query(`UPDATE scheduler.attempts SET in_production = true WHERE job_id = $1 AND status = 'succeeded'`, [jobId]);
  }

  async list(f: TrackedRunFilter): Promise<{ total: number; rows: TrackedRow[] }> {
    const where: string[] = ['a.purged_at IS NULL'];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.symbol) add('j.symbol = ?', f.symbol);
    if (f.purpose) add(`j.definition->>'purpose' = ?`, f.purpose);
    if (f.runId) add('j.run_id = ?', f.runId);
    if (f.studyId) add('j.run_id = ? AND EXISTS (SELECT 1 FROM scheduler.studies WHERE id = j.run_id)', f.studyId);
    if (f.status) add('a.status = ANY(?)', STATUSES_OF(f.status));
    const clause = `WHERE ${where.join(' AND ')}`;
    const [{ total }] = await this.ds.query(`SELECT count(*)::int AS total FROM scheduler.attempts a JOIN scheduler.jobs j ON j.id = a.job_id ${clause}`, params);
    const rows = await this.ds.query(`${SELECT} ${clause} ORDER BY a.requested_at DESC, a.job_id, a.attempt LIMIT ${f.limit} OFFSET ${f.offset}`, params);
    return { total, rows };
  }

  async find(jobId: string, attempt: number): Promise<TrackedRow | null> {
    const [row] = await this.ds.query(`${SELECT} WHERE a.job_id = $1 AND a.attempt = $2 AND a.purged_at IS NULL`, [jobId, attempt]);
    return row ?? null;
  }

  /** The experiments: one per symbol and purpose, and one per study, with how many runs each holds. */
  experiments(): Promise<{ symbol: string; purpose: string; studyId: string | null; runs: number; lastRunAt: Date }[]> {
    return this.ds.query(
      `SELECT j.symbol, j.definition->>'purpose' AS purpose, s.id AS "studyId", count(*)::int AS runs, max(a.requested_at) AS "lastRunAt"
         FROM scheduler.attempts a JOIN scheduler.jobs j ON j.id = a.job_id LEFT JOIN scheduler.studies s ON s.id = j.run_id
        WHERE a.purged_at IS NULL
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 NULLS FIRST`,
    );
  }

  series(jobId: string, attempt: number, key?: string): Promise<SeriesPoint[]> {
    return this.ds.query(
      `SELECT key, step, value, at FROM scheduler.metric_points WHERE job_id = $1 AND attempt = $2 ${key === undefined ? '' : 'AND key = $3'} ORDER BY key, step`,
      key === undefined ? [jobId, attempt] : [jobId, attempt, key],
    );
  }

  /** Every point of the run in the order they were stored (an append-only order while it no longer trains). */
  async storedPoints(jobId: string, attempt: number): Promise<SeriesPoint[]> {
    return this.ds.query(`SELECT key, step, value, at FROM scheduler.metric_points WHERE job_id = $1 AND attempt = $2 ORDER BY seq`, [jobId, attempt]);
  }

  async metricKeys(jobId: string, attempt: number): Promise<string[]> {
    const rows: { key: string }[] = await this.ds.query(`SELECT DISTINCT key FROM scheduler.metric_points WHERE job_id = $1 AND attempt = $2 ORDER BY key`, [jobId, attempt]);
    return rows.map((r) => r.key);
  }

  /**
   * Finished runs to mirror, settled (no point arriving for a while): never mirrored, a pass that
   * failed, or points newer than the last mirror. A refused run waits until it has a newer point.
   */
  toMirror(settledBefore: Date, limit: number): Promise<{ jobId: string; attempt: number; mlflowRunId: string | null; metricsSent: number; maxSeq: number }[]> {
    return this.ds.query(
      `SELECT a.job_id AS "jobId", a.attempt, s.mlflow_run_id AS "mlflowRunId", COALESCE(s.metrics_sent, 0) AS "metricsSent",
              COALESCE((SELECT max(seq) FROM scheduler.metric_points p WHERE p.job_id = a.job_id AND p.attempt = a.attempt), 0)::float8 AS "maxSeq"
         FROM scheduler.attempts a LEFT JOIN scheduler.mlflow_sync s ON s.job_id = a.job_id AND s.attempt = a.attempt
        WHERE a.status IN ('succeeded', 'failed', 'lost', 'timed_out', 'cancelled') AND a.finished_at < $1 AND a.purged_at IS NULL
          AND (s.job_id IS NULL OR NOT s.finished
               OR EXISTS (SELECT 1 FROM scheduler.metric_points p WHERE p.job_id = a.job_id AND p.attempt = a.attempt AND p.seq > s.last_seq))
        ORDER BY a.finished_at LIMIT $2`,
      [settledBefore, limit],
    );
  }

  async saveMirrorCursor(jobId: string, attempt: number, metricsSent: number): Promise<void> {
    await this.ds.query(
      `INSERT INTO scheduler.mlflow_sync (job_id, attempt, metrics_sent, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (job_id, attempt) DO UPDATE SET metrics_sent = EXCLUDED.metrics_sent, updated_at = now()`,
      [jobId, attempt, metricsSent],
    );
  }

  async mirrored(jobId: string, attempt: number, mlflowRunId: string, metricsSent: number, lastSeq: number): Promise<void> {
    await this.ds.query(
      `INSERT INTO scheduler.mlflow_sync (job_id, attempt, mlflow_run_id, metrics_sent, last_seq, finished, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, true, NULL, now())
       ON CONFLICT (job_id, attempt) DO UPDATE SET mlflow_run_id = EXCLUDED.mlflow_run_id, metrics_sent = EXCLUDED.metrics_sent, last_seq = EXCLUDED.last_seq, finished = true, last_error = NULL, updated_at = now()`,
      [jobId, attempt, mlflowRunId, metricsSent, lastSeq],
    );
  }

  /** `refusedAt`: the newest point when MLflow refused the run for good (null: a transient failure, try again). */
  async mirrorFailed(jobId: string, attempt: number, error: string, refusedAt: number | null): Promise<void> {
    await this.ds.query(
      `INSERT INTO scheduler.mlflow_sync (job_id, attempt, last_error, finished, last_seq, updated_at) VALUES ($1, $2, $3, $4, COALESCE($5, 0), now())
       ON CONFLICT (job_id, attempt) DO UPDATE SET last_error = EXCLUDED.last_error, finished = EXCLUDED.finished,
         last_seq = CASE WHEN $4 THEN EXCLUDED.last_seq ELSE scheduler.mlflow_sync.last_seq END, updated_at = now()`,
      [jobId, attempt, error, refusedAt !== null, refusedAt],
    );
  }

  /** Where a run stands with MLflow, for its view. */
  async mirrorState(jobId: string, attempt: number): Promise<{ mlflowRunId: string | null; lastError: string | null; updatedAt: Date } | null> {
    const [row] = await this.ds.query(`SELECT mlflow_run_id AS "mlflowRunId", last_error AS "lastError", updated_at AS "updatedAt" FROM scheduler.mlflow_sync WHERE job_id = $1 AND attempt = $2`, [
      jobId,
      attempt,
    ]);
    return row ?? null;
  }
}
