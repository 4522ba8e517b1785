import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { JobDefinition } from '@trainyard/contracts';
import type { Params, TrialRecord } from '@trainyard/search';
import type { StudyRequest } from './study-request';

export type StudyStatus = 'running' | 'completed' | 'cancelled';
export type TrialState = TrialRecord['state'];

/** What a study was asked for, settled: the seed and direction fixed once, so every replica decides alike. */
export interface StudyConfigRow extends Omit<StudyRequest, 'studyId' | 'seed' | 'direction' | 'space'> {
  space: Record<string, unknown>;
  seed: number;
  direction: 'maximize' | 'minimize';
}

export interface StudyRow {
  id: string;
  symbol: string;
  status: StudyStatus;
  config: StudyConfigRow;
  request: StudyRequest;
  template: JobDefinition;
  createdAt: Date;
  completedAt: Date | null;
}

export interface TrialRow {
  studyId: string;
  number: number;
  jobId: string;
  params: Params;
  state: TrialState;
  value: number | null;
  prunedStep: number | null;
  reason: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  /** The job's state and metrics, for syncing a trial from its job. */
  jobStatus: string;
  jobMetrics: Record<string, number> | null;
  jobError: string | null;
}

const TRIALS = `
  SELECT t.study_id AS "studyId", t.number, t.job_id AS "jobId", t.params, t.state, t.value, t.pruned_step AS "prunedStep", t.reason,
         t.created_at AS "createdAt", t.finished_at AS "finishedAt", j.status AS "jobStatus", j.metrics AS "jobMetrics", j.error_message AS "jobError"
    FROM scheduler.study_trials t JOIN scheduler.jobs j ON j.id = t.job_id`;
const STUDY = `SELECT id, symbol, status, config, request, template, created_at AS "createdAt", completed_at AS "completedAt" FROM scheduler.studies`;

/** The studies' tables; a study's changes take its row lock, so replicas and handlers never interleave them. */
@Injectable()
export class StudyStore {
  constructor(readonly ds: DataSource) {}

  async find(id: string, em: EntityManager = this.ds.manager, lock = false): Promise<StudyRow | null> {
    const [row] = await em.query(`${STUDY} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
    return row ?? null;
  }

  list(limit: number, offset: number): Promise<StudyRow[]> {
    return this.ds.query(`${STUDY} ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`, [limit, offset]);
  }

  runningIds(): Promise<string[]> {
    return this.ds.query(`SELECT id FROM scheduler.studies WHERE status = 'running'`).then((rows: { id: string }[]) => rows.map((r) => r.id));
  }

  /** The study of a trial's job, when the job is one. */
  async studyOfJob(jobId: string): Promise<{ studyId: string; number: number } | null> {
    const [row] = await this.ds.query(`SELECT study_id AS "studyId", number FROM scheduler.study_trials WHERE job_id = $1`, [jobId]);
    return row ?? null;
  }

  insertStudy(em: EntityManager, s: Omit<StudyRow, 'completedAt'>): Promise<unknown> {
    return em.query(`INSERT INTO scheduler.studies (id, symbol, status, config, request, template, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      s.id,
      s.symbol,
      s.status,
      JSON.stringify(s.config),
      JSON.stringify(s.request),
      JSON.stringify(s.template),
      s.createdAt,
    ]);
  }

  trials(studyId: string, em: EntityManager = this.ds.manager): Promise<TrialRow[]> {
    return em.query(`${TRIALS} WHERE t.study_id = $1 ORDER BY t.number`, [studyId]);
  }

  insertTrial(em: EntityManager, t: { studyId: string; number: number; jobId: string; params: Params; createdAt: Date }): Promise<unknown> {
    return em.query(`INSERT INTO scheduler.study_trials (study_id, number, job_id, params, state, created_at) VALUES ($1, $2, $3, $4, 'running', $5)`, [
      t.studyId,
      t.number,
      t.jobId,
      JSON.stringify(t.params),
      t.createdAt,
    ]);
  }

  async finishTrial(
    em: EntityManager,
    studyId: string,
    number: number,
    state: Exclude<TrialState, 'running'>,
    fields: { value?: number | null; prunedStep?: number | null; reason?: string | null },
    at: Date,
  ): Promise<boolean> {
    const rows: unknown[] = await em.query(
      `WITH done AS (
         UPDATE scheduler.study_trials SET state = $3, value = $4, pruned_step = $5, reason = $6, finished_at = $7
          WHERE study_id = $1 AND number = $2 AND state = 'running' RETURNING 1)
       SELECT 1 FROM done`,
      [studyId, number, state, fields.value ?? null, fields.prunedStep ?? null, fields.reason?.slice(0, 500) ?? null, at],
    );
    return rows.length > 0;
  }

  async setStatus(em: EntityManager, studyId: string, status: StudyStatus, at: Date | null): Promise<void> {
    await em.query(`UPDATE scheduler.studies SET status = $2, completed_at = $3 WHERE id = $1`, [studyId, status, at]);
  }

  /** The reported series of a metric for the trials' jobs (their current attempts), as [step, value] by job. */
  async intermediate(jobIds: string[], key: string, em: EntityManager = this.ds.manager): Promise<Map<string, [number, number][]>> {
    if (jobIds.length === 0) return new Map();
    const rows: { jobId: string; step: number; value: number }[] = await em.query(
      `SELECT p.job_id AS "jobId", p.step, p.value FROM scheduler.metric_points p JOIN scheduler.jobs j ON j.id = p.job_id AND j.attempt = p.attempt
        WHERE p.job_id = ANY($1) AND p.key = $2 ORDER BY p.job_id, p.step`,
      [jobIds, key],
    );
    const out = new Map<string, [number, number][]>();
    for (const r of rows) out.set(r.jobId, [...(out.get(r.jobId) ?? []), [r.step, r.value]]);
    return out;
  }
}
