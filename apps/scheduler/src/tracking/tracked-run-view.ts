import type { JobDefinition } from '@trainyard/contracts';
import { flattenParams, type TrackedRun } from '@trainyard/tracking';
import { RUN_STATUS_OF, type SeriesPoint, type TrackedRow } from './tracking.store';

/** A tracked run's id: the attempt's, `<jobId>-a<attempt>`. */
export const trackedRunId = (jobId: string, attempt: number) => `${jobId}-a${attempt}`;

export function parseTrackedRunId(id: string): { jobId: string; attempt: number } | null {
  const [, jobId, attempt] = /^([A-Za-z0-9][A-Za-z0-9_-]{0,127})-a(\d{1,6})$/.exec(id) ?? [];
  return jobId && attempt ? { jobId, attempt: Number(attempt) } : null;
}

/** Experiments group the runs of one symbol trained for one purpose (production retraining or search), and a study's trials apart. */
export const experimentName = (symbol: string, purpose: string, studyId: string | null = null) => (studyId ? `${symbol}/search/${studyId}` : `${symbol}/${purpose}`);

/** What the run was given: the model and data configuration and the trainer, as flat params. */
export function paramsOf(d: JobDefinition): Record<string, string> {
  const driver = d.driver.kind === 'command' ? { kind: 'command', trainer: d.driver.trainer, args: d.driver.args } : { kind: 'builtin' };
  return flattenParams({
    model: d.model,
    data: { date: d.date, timeframe: d.timeframe, lookbackCandles: d.lookbackCandles, featureset: d.featureset },
    driver,
    resources: d.resources,
    costs: d.costs,
  });
}

export function tagsOf(r: TrackedRow): Record<string, string> {
  return {
    'trainyard.run_id': trackedRunId(r.jobId, r.attempt),
    'trainyard.job_id': r.jobId,
    'trainyard.attempt': String(r.attempt),
    'trainyard.run': r.runId,
    'trainyard.symbol': r.symbol,
    'trainyard.purpose': r.definition.purpose,
    ...(r.agentId ? { 'trainyard.agent': r.agentId } : {}),
    ...(r.studyId ? { 'trainyard.study': r.studyId } : {}),
    ...(r.codeVersion ? { 'trainyard.code_version': r.codeVersion } : {}),
    ...(r.inProduction ? { 'trainyard.production': 'true' } : {}),
  };
}

export interface TrackedRunView {
  id: string;
  jobId: string;
  attempt: number;
  runId: string;
  experiment: string;
  symbol: string;
  purpose: string;
  status: 'running' | 'finished' | 'failed' | 'killed';
  attemptStatus: string;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  codeVersion: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, number> | null;
  error: { type: string; message: string | null } | null;
  artifacts: { name: string; key: string; uri: string; sha256: string; bytes: number }[];
  /** The attempt's log in the artifact store, while retention keeps it. */
  logKey: string | null;
  inProduction: boolean;
}

export function toView(r: TrackedRow): TrackedRunView {
  const prefix = r.artifactsPrefix;
  return {
    id: trackedRunId(r.jobId, r.attempt),
    jobId: r.jobId,
    attempt: r.attempt,
    runId: r.runId,
    experiment: experimentName(r.symbol, r.definition.purpose, r.studyId),
    symbol: r.symbol,
    purpose: r.definition.purpose,
    status: RUN_STATUS_OF[r.status],
    attemptStatus: r.status,
    requestedAt: new Date(r.requestedAt).toISOString(),
    startedAt: r.startedAt ? new Date(r.startedAt).toISOString() : null,
    finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
    codeVersion: r.codeVersion,
    params: paramsOf(r.definition),
    tags: tagsOf(r),
    metrics: r.metrics ? { ...r.metrics } : null,
    error: r.errorType ? { type: r.errorType, message: r.message } : null,
    artifacts: (r.artifacts ?? []).map((a) => ({ name: a.name, key: prefix ? `${prefix}/${a.name}` : a.name, uri: a.uri, sha256: a.sha256, bytes: a.bytes })),
    logKey: prefix && !r.logDeletedAt ? `${prefix}/attempt.log` : null,
    inProduction: r.inProduction,
  };
}

/**
 * The run in MLflow's terms: each final metric once at the run's last step (named `final.<metric>`,
 * so it never mixes with a trainer's series of the same name), then its series as stored. Finals come
 * first because they are known when a finished run is first mirrored, and a late point then only ever
 * appends: the mirror's cursor counts positions in this list.
 */
export function toTrackedRun(r: TrackedRow, points: SeriesPoint[]): TrackedRun {
  const view = toView(r);
  const end = r.finishedAt ? new Date(r.finishedAt).getTime() : undefined;
  const lastStep = points.reduce((m, p) => Math.max(m, p.step), 0);
  const finals = Object.entries(view.metrics ?? {}).map(([key, value]) => ({ key: `final.${key}`, value, step: lastStep, timestamp: end ?? Date.now() }));
  return {
    runId: view.id,
    experimentName: view.experiment,
    runName: `${r.jobId}#${r.attempt}`,
    status: view.status,
    startTime: new Date(r.startedAt ?? r.requestedAt).getTime(),
    ...(end !== undefined ? { endTime: end } : {}),
    params: view.params,
    tags: view.tags,
    metrics: [...finals, ...points.map((p) => ({ key: p.key, value: p.value, step: p.step, timestamp: new Date(p.at).getTime() }))],
    artifacts: view.artifacts.map((a) => ({ key: a.key, uri: a.uri, sha256: a.sha256, bytes: a.bytes })),
  };
}
