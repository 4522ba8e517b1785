import type { TrackedRun, TrackedRunStatus } from './tracked-run';

/**
 * MLflow's own limits and name rules (mlflow/utils/validation.py, MLflow 2.x/3.x), checked here before
 * anything is sent or written so a bad key fails the whole run up front instead of half-way through.
 */
export const MLFLOW_LIMITS = {
  paramsTagsPerBatch: 100,
  metricsPerBatch: 1000,
  entitiesPerBatch: 1000,
  /** MAX_BATCH_LOG_REQUEST_SIZE; also under nginx's default 1 MiB body limit in front of most servers. */
  batchRequestBytes: 1_000_000,
  keyLength: 250,
  /** Longer values are truncated by the server (MLFLOW_TRUNCATE_LONG_VALUES, on by default). */
  paramValueLength: 6000,
  tagValueLength: 8000,
  experimentNameLength: 500,
} as const;

/** RunStatus in service.proto; the FileStore writes the number, the REST API the name. */
export const RUN_STATUS = { RUNNING: 1, SCHEDULED: 2, FINISHED: 3, FAILED: 4, KILLED: 5 } as const;
export type MlflowRunStatus = keyof typeof RUN_STATUS;

export function mlflowStatus(status: TrackedRunStatus): MlflowRunStatus {
  return status === 'running' ? 'RUNNING' : status === 'finished' ? 'FINISHED' : status === 'failed' ? 'FAILED' : 'KILLED';
}

/** `_VALID_PARAM_AND_METRIC_NAMES`: Python's `\w` is Unicode-aware, hence \p{L}\p{N}. */
const VALID_NAME = /^[/\p{L}\p{N}_.\- ]*$/u;

/** Python's posixpath.normpath, which MLflow uses to refuse names that would alias other files. */
export function posixNormpath(path: string): string {
  if (path === '') return '.';
  const lead = path.startsWith('/') ? (path.startsWith('//') && !path.startsWith('///') ? 2 : 1) : 0;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..' || (!lead && out.length === 0) || out[out.length - 1] === '..') out.push(part);
    else if (out.length) out.pop();
  }
  const joined = '/'.repeat(lead) + out.join('/');
  return joined || '.';
}

/** Length as Python counts it (code points), which is what MLflow's limits are in. */
export const codePoints = (s: string): number => [...s].length;

/** What the server stores for a value over its limit. */
export function truncateValue(value: string, limit: number): string {
  return codePoints(value) <= limit ? value : [...value].slice(0, limit).join('');
}

/** Why MLflow would refuse this metric, param or tag key, in MLflow's words; undefined when it is fine. */
export function keyProblem(kind: 'metric' | 'parameter' | 'tag', key: string): string | undefined {
  if (!VALID_NAME.test(key)) {
    return `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`;
  }
  const norm = posixNormpath(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    return `Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`;
  }
  if (codePoints(key) > MLFLOW_LIMITS.keyLength) {
    const entity = kind === 'metric' ? 'Metric name' : kind === 'parameter' ? 'Param key' : 'Tag key';
    return `${entity} '${key.slice(0, 250)}' had length ${codePoints(key)}, which exceeded length limit of ${MLFLOW_LIMITS.keyLength}`;
  }
  return undefined;
}

/** Everything MLflow would refuse in this run (keys, metric numbers, names), so nothing is half-sent. */
export function trackedRunProblems(run: TrackedRun, tags: Record<string, string>): string[] {
  const problems: string[] = [];
  if (!run.experimentName) problems.push(`Invalid experiment name: '${run.experimentName}'`);
  if (codePoints(run.experimentName) > MLFLOW_LIMITS.experimentNameLength) problems.push(`Experiment name exceeds the maximum length of ${MLFLOW_LIMITS.experimentNameLength} characters`);
  if (!Number.isInteger(run.startTime) || run.startTime < 0) problems.push(`start time ${run.startTime} is not a non-negative integer of ms`);
  if (run.endTime != null && (!Number.isInteger(run.endTime) || run.endTime < 0)) problems.push(`end time ${run.endTime} is not a non-negative integer of ms`);
  for (const key of Object.keys(run.params)) {
    const p = keyProblem('parameter', key);
    if (p) problems.push(p);
  }
  for (const key of Object.keys(tags)) {
    const p = keyProblem('tag', key);
    if (p) problems.push(p);
  }
  const seen = new Set<string>();
  for (const m of run.metrics) {
    if (!seen.has(m.key)) {
      seen.add(m.key);
      const p = keyProblem('metric', m.key);
      if (p) problems.push(p);
    }
    if (typeof m.value !== 'number') problems.push(`Got invalid value ${String(m.value)} for metric '${m.key}' (timestamp=${m.timestamp})`);
    if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) problems.push(`Got invalid timestamp ${m.timestamp} for metric '${m.key}'. Timestamp must be a nonnegative long (64-bit integer)`);
    if (!Number.isSafeInteger(m.step)) problems.push(`Got invalid step ${m.step} for metric '${m.key}'. Step must be a valid long (64-bit integer).`);
  }
  return problems;
}
