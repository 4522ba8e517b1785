import { createHash } from 'node:crypto';
import type { CallOptions, MlflowClient, MlflowKeyValue, MlflowRun } from './mlflow-client';
import { MlflowRejected } from './mlflow-errors';
import { MLFLOW_LIMITS, mlflowStatus, trackedRunProblems, truncateValue } from './mlflow-rules';
import { artifactTagKey, artifactTagValue, parseArtifactTagValue, TRAINYARD_RUN_ID_TAG, trackedRunTags } from './mlflow-tags';
import type { MetricPoint, TrackedArtifact, TrackedRun } from './tracked-run';

export interface MirrorOptions {
  /**
   * How many of `run.metrics` MLflow already holds: the `metricsSent` of the previous mirror of this
   * run, persisted by the caller; trusted, so a cursor saved late (the process died between MLflow
   * accepting a batch and the save) re-sends that batch — ignored by MLflow's SQL store, appended by
   * its file store. Omitted (unknown), the mirror reads MLflow's metric history and sends only the
   * points missing there: exact, at the cost of reading every metric's history once.
   */
  metricsSent?: number;
  /** Called after each accepted batch of metrics with the cursor to persist, so a crash re-sends little. */
  onMetricsSent?: (sent: number) => void | Promise<void>;
  /**
   * The artifact's bytes, to upload through the MLflow artifact proxy when the run's artifact root is
   * proxied (`mlflow-artifacts:`). Without it, or with another root, artifacts are recorded as tags only.
   */
  readArtifact?: (artifact: TrackedArtifact) => Promise<Uint8Array | undefined>;
  /** MLflow's user_id for a run this mirror creates. */
  userId?: string;
}

export interface MirrorResult {
  experimentId: string;
  mlflowRunId: string;
  /** Whether this call created the MLflow run (false when an earlier mirror had). */
  created: boolean;
  /** The cursor to persist and pass back as `metricsSent`: all of run.metrics are in MLflow. */
  metricsSent: number;
  /** What this call sent; a repeat with nothing new sends nothing. */
  logged: { params: number; tags: number; metrics: number };
  /** Storage keys whose bytes this call uploaded. */
  artifactsUploaded: string[];
}

interface Indexed {
  point: MetricPoint;
  index: number;
}

/** Equal points in MLflow's sense: same key, step, timestamp and value (MLflow's SQL store keeps one). */
const identity = (m: MetricPoint) => `${m.key}\u0000${m.step}\u0000${m.timestamp}\u0000${String(m.value)}`;

const toMap = (entries: MlflowKeyValue[] | undefined) => new Map((entries ?? []).map((e) => [e.key, e.value ?? '']));

/**
 * Mirrors one Trainyard run into MLflow so that calling it again — after a crash, a timeout, or with
 * more metrics — converges on one MLflow run holding exactly the run's data:
 *
 * 1. the experiment is found by name or created (a create race ends in a re-read);
 * 2. the run is found by its `trainyard.run_id` tag, else created with that tag in the same request;
 *    a create whose answer is lost is never blindly repeated: the search runs again first;
 * 3. params MLflow lacks are logged; one it holds with another value (params are immutable in MLflow)
 *    fails the mirror with MlflowRejected before anything is sent; tags are sent when they differ;
 * 4. artifacts: bytes are uploaded through the artifact proxy when possible, and each artifact gets a
 *    tag holding its storage key, URI, sha256, size and, once uploaded, its path in MLflow;
 * 5. metrics after the cursor are sent in batches of 1000 (see MirrorOptions.metricsSent). Resending
 *    is not harmless everywhere: MLflow's SQL store ignores a point identical in key, step, timestamp
 *    and value, but its file store appends it again. So a batch retried after a transient failure is
 *    first checked against MLflow's history, and a batch that landed but whose answer was lost is not
 *    stored twice; with no cursor, the whole run is checked that way;
 * 6. the run's status, end time and name are set when they differ.
 *
 * Runs in one MLflow experiment per Trainyard experiment name; one mirror per run at a time (two
 * concurrent first mirrors of one run can both create). A run deleted in MLflow is not reused: the
 * next mirror creates a new one. Throws MlflowRejected (permanent) or MlflowUnavailable (retry later).
 */
export async function mirrorRun(client: MlflowClient, run: TrackedRun, options: MirrorOptions = {}): Promise<MirrorResult> {
  const desiredTags = trackedRunTags(run);
  const problems = trackedRunProblems(run, desiredTags);
  if (problems.length) throw new MlflowRejected('INVALID_PARAMETER_VALUE', `run ${run.runId} cannot be mirrored: ${problems.join('; ')}`);
  const cursor = options.metricsSent;
  if (cursor !== undefined && (!Number.isInteger(cursor) || cursor < 0 || cursor > run.metrics.length)) {
    throw new RangeError(`metricsSent ${cursor} is not a position in the run's ${run.metrics.length} metrics`);
  }

  const experiment = await client.ensureExperiment(run.experimentName);
  if (experiment.lifecycle_stage !== 'active') {
    throw new MlflowRejected('INVALID_STATE', `experiment '${experiment.name}' (${experiment.experiment_id}) is deleted in MLflow; restore it or mirror under another name`);
  }
  const { mlflowRun, created } = await findOrCreateRun(client, experiment.experiment_id, run, options.userId);
  const runId = mlflowRun.info.run_id;
  const haveTags = toMap(mlflowRun.data?.tags);
  const changed = (key: string, value: string) => {
    const have = haveTags.get(key);
    return have !== value && have !== truncateValue(value, MLFLOW_LIMITS.tagValueLength);
  };

  const params = newParams(run, toMap(mlflowRun.data?.params), runId);
  const artifactKeys = new Set(run.artifacts.map((a) => artifactTagKey(a.key)));
  const tags = Object.entries(desiredTags)
    .filter(([key, value]) => !artifactKeys.has(key) && changed(key, value))
    .map(([key, value]) => ({ key, value }));
  await client.logBatch(runId, { params, tags });

  const artifactsUploaded: string[] = [];
  const artifactTags: MlflowKeyValue[] = [];
  for (const artifact of run.artifacts) {
    const key = artifactTagKey(artifact.key);
    const recorded = parseArtifactTagValue(haveTags.get(key));
    let value: string;
    if (recorded?.mlflow_path && recorded.sha256 === artifact.sha256) value = haveTags.get(key) as string;
    else {
      const path = await uploadArtifact(client, mlflowRun, artifact, options.readArtifact);
      if (path) artifactsUploaded.push(artifact.key);
      value = artifactTagValue(artifact, path);
    }
    if (changed(key, value)) artifactTags.push({ key, value });
  }
  await client.logBatch(runId, { tags: artifactTags });

  const metrics = await sendMetrics(client, runId, run.metrics, created ? 0 : cursor, options.onMetricsSent);
  await finishRun(client, mlflowRun, run);
  return {
    experimentId: experiment.experiment_id,
    mlflowRunId: runId,
    created,
    metricsSent: run.metrics.length,
    logged: { params: params.length, tags: tags.length + artifactTags.length, metrics },
    artifactsUploaded,
  };
}

/** Params MLflow lacks; one it holds with another value is refused here, as MLflow would refuse it. */
function newParams(run: TrackedRun, have: Map<string, string>, runId: string): MlflowKeyValue[] {
  const params: MlflowKeyValue[] = [];
  for (const [key, value] of Object.entries(run.params)) {
    const held = have.get(key);
    if (held === undefined) params.push({ key, value });
    else if (held !== value && held !== truncateValue(value, MLFLOW_LIMITS.paramValueLength)) {
      throw new MlflowRejected(
        'INVALID_PARAMETER_VALUE',
        `Changing param values is not allowed. Param with key='${key}' was already logged with value='${held}' for run ID='${runId}'. Attempted logging new value '${value}'.`,
      );
    }
  }
  return params;
}

/** Sets status and end time once the run is over, and the name when it changed; nothing when MLflow agrees. */
async function finishRun(client: MlflowClient, mlflowRun: MlflowRun, run: TrackedRun): Promise<void> {
  const status = mlflowStatus(run.status);
  const info = mlflowRun.info;
  const end = run.status === 'running' ? undefined : (run.endTime ?? undefined);
  const statusChanged = status !== 'RUNNING' && (info.status !== status || (end !== undefined && Number(info.end_time) !== end));
  if (statusChanged || info.run_name !== run.runName) {
    await client.updateRun({ runId: info.run_id, ...(statusChanged ? { status, endTime: end } : {}), runName: run.runName });
  }
}

/** Search, and create only when the search finds nothing; a failed create searches again before retrying. */
async function findOrCreateRun(client: MlflowClient, experimentId: string, run: TrackedRun, userId: string | undefined): Promise<{ mlflowRun: MlflowRun; created: boolean }> {
  return client.retrying('mlflow/runs/create', async () => {
    const found = await client.findRunByTag(experimentId, TRAINYARD_RUN_ID_TAG, run.runId, { retry: false });
    if (found) return { mlflowRun: found, created: false };
    const createdRun = await client.createRun({ experimentId, runName: run.runName, startTime: run.startTime, userId, tags: [{ key: TRAINYARD_RUN_ID_TAG, value: run.runId }] }, { retry: false });
    return { mlflowRun: createdRun, created: true };
  });
}

/** The artifact's path under the run's artifact root once uploaded; undefined when it cannot be. */
async function uploadArtifact(client: MlflowClient, mlflowRun: MlflowRun, artifact: TrackedArtifact, read: MirrorOptions['readArtifact']): Promise<string | undefined> {
  const root = mlflowRun.info.artifact_uri;
  if (!read || !root || !client.proxiedArtifactUrl(root, artifact.key)) return undefined;
  const bytes = await read(artifact);
  if (!bytes) return undefined;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== artifact.sha256) throw new Error(`artifact ${artifact.key}: the bytes read have sha256 ${sha256}, the run records ${artifact.sha256}`);
  await client.uploadArtifact(root, artifact.key, bytes);
  return artifact.key;
}

/** Sends the points MLflow lacks, in batches; returns how many were sent. */
async function sendMetrics(client: MlflowClient, runId: string, all: MetricPoint[], cursor: number | undefined, progress: MirrorOptions['onMetricsSent']): Promise<number> {
  const indexed = all.map((point, index) => ({ point, index }));
  const pending = cursor === undefined ? await missing(client, runId, indexed, all, 0) : indexed.slice(cursor);
  let sent = 0;
  for (let i = 0; i < pending.length; i += MLFLOW_LIMITS.metricsPerBatch) {
    let batch = pending.slice(i, i + MLFLOW_LIMITS.metricsPerBatch);
    // i < pending.length, so the batch holds at least one point
    const end = batch[batch.length - 1]!.index + 1;
    await client.retrying('mlflow/runs/log-batch', async (attempt) => {
      if (attempt > 1) batch = await missing(client, runId, batch, all, end, { retry: false });
      if (batch.length) await client.logBatch(runId, { metrics: batch.map((b) => b.point) }, { retry: false });
    });
    sent += batch.length;
    await progress?.(end);
  }
  return sent;
}

/**
 * The candidates MLflow's history does not hold, given that every point of `all` before `upTo` other
 * than the candidates is already there. Counts matter: a point recorded twice is sent twice.
 */
async function missing(client: MlflowClient, runId: string, candidates: Indexed[], all: MetricPoint[], upTo: number, call?: CallOptions): Promise<Indexed[]> {
  const keys = new Set(candidates.map((c) => c.point.key));
  const have = new Map<string, number>();
  for (const key of keys) {
    for (const m of await client.getMetricHistory(runId, key, call)) have.set(identity(m), (have.get(identity(m)) ?? 0) + 1);
  }
  const isCandidate = new Set(candidates.map((c) => c.index));
  for (const [i, point] of all.entries()) {
    if (i >= upTo) break;
    if (isCandidate.has(i) || !keys.has(point.key)) continue;
    const id = identity(point);
    const n = have.get(id) ?? 0;
    if (n > 0) have.set(id, n - 1);
  }
  return candidates.filter((c) => {
    const id = identity(c.point);
    const n = have.get(id) ?? 0;
    if (n === 0) return true;
    have.set(id, n - 1);
    return false;
  });
}
