import { createHash } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MLFLOW_LIMITS, RUN_STATUS, mlflowStatus, posixNormpath, trackedRunProblems, truncateValue } from './mlflow-rules';
import { artifactTagKey, artifactTagValue, trackedRunTags } from './mlflow-tags';
import { yamlDocument } from './mlflow-yaml';
import type { TrackedArtifact, TrackedRun } from './tracked-run';

export interface FileStoreExperiment {
  /** MLflow's experiment id; derived from the name when absent ("Default" is 0, as in MLflow). */
  id?: string;
  name: string;
  runs: TrackedRun[];
}

export interface FileStoreExportOptions {
  /**
   * The mlruns folder as MLflow will see it, for artifact_location and artifact_uri (MLflow writes
   * absolute file URIs there). Default: the file URI of `<dir>/mlruns`.
   */
  artifactRootUri?: string;
  /** The artifact's bytes, copied into the run's artifacts/ folder; undefined leaves it as a tag only. */
  readArtifact?: (artifact: TrackedArtifact, run: TrackedRun) => Promise<Uint8Array | undefined>;
  /** user_id in every run's meta.yaml. */
  userId?: string;
  /** ms since the epoch; creation time of an experiment without runs. */
  now?: () => number;
  /**
   * Write the experiments straight into `dir`, the folder `mlflow ui --backend-store-uri <dir>` is
   * given, instead of into `<dir>/mlruns`.
   */
  storeRoot?: boolean;
}

export interface FileStoreExportResult {
  /** The mlruns folder. */
  root: string;
  experiments: Array<{ id: string; name: string; runs: Array<{ runId: string; runUuid: string; dir: string; artifactsCopied: string[] }> }>;
}

/** FileStore.DEFAULT_EXPERIMENT_ID and Experiment.DEFAULT_EXPERIMENT_NAME. */
const DEFAULT_EXPERIMENT = { id: '0', name: 'Default' };
/** `_EXPERIMENT_ID_REGEX` in mlflow/utils/validation.py. */
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w-]{0,63}$/;
/** SourceType.LOCAL, what the FileStore writes for every run. */
const SOURCE_TYPE_LOCAL = 4;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A stable 32-hex run id (the shape of MLflow's uuid4().hex) for a Trainyard run id, so re-exports land in place. */
export const mlflowRunUuid = (runId: string): string => sha256(`trainyard-run:${runId}`).slice(0, 32);

/** A stable id in the style of the FileStore's `_generate_unique_integer_id` (18 decimal digits). */
export const mlflowExperimentId = (name: string): string =>
  name === DEFAULT_EXPERIMENT.name ? DEFAULT_EXPERIMENT.id : String((BigInt(`0x${sha256(`trainyard-experiment:${name}`).slice(0, 16)}`) % 10n ** 17n) + 10n ** 17n);

/**
 * Python's repr() of a float, which is how the FileStore writes metric values
 * (`f"{metric.timestamp} {metric.value} {metric.step}\n"`): 1.0, 0.0001, 1e-05, 1e+16, nan, inf.
 */
export function pythonFloatRepr(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exponent] = v.toExponential().split('e');
  const exp = Number(exponent);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace(/^-/, '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const rest = digits.slice(1);
    return `${sign}${digits[0]}${rest ? `.${rest}` : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${whole}.${digits.slice(exp + 1) || '0'}`;
}

/** Keys that are both a file and a folder ("a" and "a/b") cannot both be written; MLflow would fail too. */
function folderClash(keys: string[]): string | undefined {
  const set = new Set(keys);
  for (const key of keys) {
    const parts = key.split('/');
    for (let i = 1; i < parts.length; i++) if (set.has(parts.slice(0, i).join('/'))) return `"${parts.slice(0, i).join('/')}" and "${key}"`;
  }
  return undefined;
}

/** Whether a storage key stays inside the run's artifacts folder. */
const safeArtifactPath = (key: string) => posixNormpath(key) === key && !key.startsWith('..') && !key.startsWith('/') && key !== '.';

/** Writes one file with its folders; MLflow writes params and tags without a trailing newline. */
async function put(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

/**
 * Writes runs as MLflow's FileStore lays them out (mlflow/store/tracking/file_store.py), so that
 * `mlflow ui --backend-store-uri <dir>/mlruns` or `mlflow.tracking.MlflowClient` reads them:
 *
 *     mlruns/.trash/
 *     mlruns/0/meta.yaml                      the Default experiment, as a fresh FileStore creates it
 *     mlruns/<exp>/meta.yaml                  artifact_location, creation_time, experiment_id, last_update_time, lifecycle_stage, name
 *     mlruns/<exp>/<run>/meta.yaml            RunInfo plus the legacy fields the store still writes; status as its RunStatus number
 *     mlruns/<exp>/<run>/params/<key>         the value, no newline
 *     mlruns/<exp>/<run>/metrics/<key>        one "<timestamp> <value> <step>" line per point, in order
 *     mlruns/<exp>/<run>/tags/<key>           the value, no newline; mlflow.runName among them
 *     mlruns/<exp>/<run>/artifacts/<key>      the bytes readArtifact gave
 *
 * Keys with "/" become sub-folders, as the store's os.path.join does. What the reader checks holds by
 * construction: each experiment folder is named by the experiment_id in its meta.yaml (else the store
 * ignores it) and each run's experiment_id is its folder's; ids match `_RUN_ID_REGEX` /
 * `_EXPERIMENT_ID_REGEX`; every key passes `_validate_*_name` (the reader re-validates file names);
 * metric lines have 3 fields that int()/float()/int() parse; status is an int RunStatus.to_string
 * accepts; experiment_id is written as a quoted string, as PyYAML does. Values over MLflow's limits are
 * truncated as the store would. Run folders are rewritten whole, so exporting again gives the same tree.
 */
export async function exportToFileStore(dir: string, experiments: FileStoreExperiment[], options: FileStoreExportOptions = {}): Promise<FileStoreExportResult> {
  const root = options.storeRoot ? resolve(dir) : resolve(dir, 'mlruns');
  const artifactRoot = (options.artifactRootUri ?? pathToFileURL(root).href).replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const userId = options.userId ?? 'trainyard';

  const planned = experiments.map((e) => ({ ...e, id: e.id ?? mlflowExperimentId(e.name) }));
  const problems: string[] = [];
  const ids = new Set<string>();
  const names = new Set<string>();
  const runIds = new Set<string>();
  for (const e of planned) {
    if (!EXPERIMENT_ID.test(e.id)) problems.push(`experiment id '${e.id}' is not one MLflow accepts`);
    if (ids.has(e.id)) problems.push(`experiment id ${e.id} is given twice`);
    if (names.has(e.name)) problems.push(`experiment name '${e.name}' is given twice`);
    ids.add(e.id);
    names.add(e.name);
    for (const run of e.runs) {
      if (run.experimentName !== e.name) problems.push(`run ${run.runId} belongs to experiment '${run.experimentName}', not '${e.name}'`);
      if (runIds.has(run.runId)) problems.push(`run ${run.runId} is given twice`);
      runIds.add(run.runId);
      problems.push(...trackedRunProblems(run, trackedRunTags(run)).map((p) => `run ${run.runId}: ${p}`));
      const metricKeys = [...new Set(run.metrics.map((m) => m.key))];
      for (const [kind, keys] of [
        ['params', Object.keys(run.params)],
        ['metrics', metricKeys],
        ['tags', Object.keys(trackedRunTags(run))],
        ['artifacts', run.artifacts.map((a) => a.key)],
      ] as const) {
        const clash = folderClash([...keys]);
        if (clash) problems.push(`run ${run.runId}: ${kind} ${clash} would be a file and a folder at once`);
      }
      for (const a of run.artifacts) if (!safeArtifactPath(a.key)) problems.push(`run ${run.runId}: artifact key '${a.key}' does not stay inside the artifacts folder`);
    }
  }
  if (problems.length) throw new Error(`cannot export to the MLflow file store: ${problems.join('; ')}`);

  await mkdir(join(root, '.trash'), { recursive: true });
  if (!ids.has(DEFAULT_EXPERIMENT.id) && !(await exists(join(root, DEFAULT_EXPERIMENT.id, 'meta.yaml')))) {
    await writeExperimentMeta(root, artifactRoot, DEFAULT_EXPERIMENT.id, DEFAULT_EXPERIMENT.name, now(), now());
  }

  const result: FileStoreExportResult = { root, experiments: [] };
  for (const e of planned) {
    const created = e.runs.length ? Math.min(...e.runs.map((r) => r.startTime)) : now();
    const updated = e.runs.length ? Math.max(...e.runs.map((r) => r.endTime ?? r.startTime)) : created;
    await writeExperimentMeta(root, artifactRoot, e.id, e.name, created, updated);
    const runs: FileStoreExportResult['experiments'][number]['runs'] = [];
    for (const run of e.runs) runs.push(await writeRun(root, artifactRoot, e.id, run, userId, options.readArtifact));
    result.experiments.push({ id: e.id, name: e.name, runs });
  }
  return result;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function writeExperimentMeta(root: string, artifactRoot: string, id: string, name: string, created: number, updated: number): Promise<void> {
  await put(
    join(root, id, 'meta.yaml'),
    yamlDocument({ artifact_location: `${artifactRoot}/${id}`, creation_time: created, experiment_id: id, last_update_time: updated, lifecycle_stage: 'active', name }),
  );
}

async function writeRun(root: string, artifactRoot: string, experimentId: string, run: TrackedRun, userId: string, read: FileStoreExportOptions['readArtifact']) {
  const runUuid = mlflowRunUuid(run.runId);
  const runDir = join(root, experimentId, runUuid);
  await rm(runDir, { recursive: true, force: true });
  for (const sub of ['metrics', 'params', 'artifacts', 'tags']) await mkdir(join(runDir, sub), { recursive: true });
  await put(
    join(runDir, 'meta.yaml'),
    yamlDocument({
      artifact_uri: `${artifactRoot}/${experimentId}/${runUuid}/artifacts`,
      end_time: run.status === 'running' ? null : (run.endTime ?? null),
      entry_point_name: '',
      experiment_id: experimentId,
      lifecycle_stage: 'active',
      run_id: runUuid,
      run_name: run.runName,
      run_uuid: runUuid,
      source_name: '',
      source_type: SOURCE_TYPE_LOCAL,
      source_version: '',
      start_time: run.startTime,
      status: RUN_STATUS[mlflowStatus(run.status)],
      tags: [],
      user_id: userId,
    }),
  );
  for (const [key, value] of Object.entries(run.params)) await put(join(runDir, 'params', key), truncateValue(value, MLFLOW_LIMITS.paramValueLength));

  const lines = new Map<string, string[]>();
  for (const m of run.metrics) {
    const line = `${m.timestamp} ${pythonFloatRepr(m.value)} ${m.step}\n`;
    const list = lines.get(m.key);
    if (list) list.push(line);
    else lines.set(m.key, [line]);
  }
  for (const [key, keyLines] of lines) await put(join(runDir, 'metrics', key), keyLines.join(''));

  const artifactsCopied: string[] = [];
  const tags: Record<string, string> = { ...trackedRunTags(run), 'mlflow.runName': run.runName };
  for (const artifact of run.artifacts) {
    const bytes = read ? await read(artifact, run) : undefined;
    if (!bytes) continue;
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== artifact.sha256) throw new Error(`artifact ${artifact.key} of run ${run.runId}: the bytes read have sha256 ${digest}, the run records ${artifact.sha256}`);
    await put(join(runDir, 'artifacts', artifact.key), bytes);
    artifactsCopied.push(artifact.key);
    tags[artifactTagKey(artifact.key)] = artifactTagValue(artifact, artifact.key);
  }
  for (const [key, value] of Object.entries(tags)) await put(join(runDir, 'tags', key), truncateValue(value, MLFLOW_LIMITS.tagValueLength));
  return { runId: run.runId, runUuid, dir: runDir, artifactsCopied };
}
