import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An MLflow tracking server on loopback with the REST API's routes, JSON shapes, error bodies and
 * validation (mlflow/server/handlers.py, mlflow/utils/validation.py, the SQL store), for clients that
 * must behave against the real thing:
 *
 * - `GET  /api/2.0/mlflow/experiments/get-by-name?experiment_name=` (a deleted experiment is found too),
 *   `GET experiments/get?experiment_id=`, `POST experiments/create` {name, artifact_location?, tags?} →
 *   {experiment_id}, `POST experiments/delete`; experiment "0" (Default) exists from the start;
 * - `POST runs/create` {experiment_id, run_name?, start_time?, user_id?, tags?} → {run},
 *   `POST runs/update` {run_id, status?, end_time?, run_name?} → {run_info}, `POST runs/delete`,
 *   `GET runs/get?run_id=` → {run}, `POST runs/search` {experiment_ids, filter?, run_view_type?,
 *   max_results?, order_by?, page_token?} → {runs?, next_page_token?};
 * - `POST runs/log-batch` {run_id, metrics?, params?, tags?}: at most 1000 metrics, 100 params, 100 tags,
 *   1000 entities and 1 MB; key names `^[/\w.\- ]*$` that do not resolve to another path, keys ≤ 250;
 *   param values ≤ 6000 and tag values ≤ 8000 (truncated, as MLFLOW_TRUNCATE_LONG_VALUES does, or
 *   refused); unique param keys; params immutable; the run must exist and be active;
 * - `GET metrics/get-history?run_id=&metric_key=&max_results?&page_token?` → every stored point;
 * - `PUT|GET /api/2.0/mlflow-artifacts/artifacts/<path>`: the artifact proxy of `--serve-artifacts`,
 *   when the default artifact root is `mlflow-artifacts:/`;
 *
 * errors as MLflow sends them: `{error_code, message}` with 400 (INVALID_PARAMETER_VALUE,
 * RESOURCE_ALREADY_EXISTS), 404 (RESOURCE_DOES_NOT_EXIST), 500 (INTERNAL_ERROR, INVALID_STATE), Flask's
 * HTML for unknown routes (404) and methods (405); with `token`/`basicAuth`, 401 without valid
 * credentials and 403 for a read-only token writing, as an auth layer answers. For tests: read back
 * experiments, runs and every metric point, inject 5xx, dropped connections or 429 with Retry-After
 * (also after the request took effect, as when an answer is lost), and see every request.
 */
export interface MlflowTestServer {
  url: string;
  /** Every request, injected failures included, in order. */
  requests: MlflowTestRequest[];
  experiments(): MlflowTestExperiment[];
  /** Runs, deleted ones included, oldest first; of one experiment when given. */
  runs(experimentId?: string): MlflowTestRun[];
  run(runId: string): MlflowTestRun | undefined;
  /** Bytes stored through the artifact proxy, by path under the artifacts destination (`<exp>/<run>/artifacts/<path>`). */
  artifact(path: string): Buffer | undefined;
  /**
   * The next `count` requests (to paths containing `route`, when given) fail with `status`, or have their
   * connection dropped ('reset'). With `applied`, the request takes effect first and only its answer fails.
   */
  failNext(count: number, status?: number | 'reset', route?: string, options?: { applied?: boolean; errorCode?: string; message?: string }): void;
  /** The next `count` requests (to paths containing `route`) get 429 with this Retry-After. */
  rateLimitNext(count: number, retryAfterSeconds?: number, route?: string): void;
  stop(): Promise<void>;
}

export interface MlflowTestServerOptions {
  /** Require `Authorization: Bearer <token>` (MLFLOW_TRACKING_TOKEN). */
  token?: string;
  /** A bearer token that may read but not write (403 on POST/PUT). */
  readOnlyToken?: string;
  /** Require basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). */
  basicAuth?: { username: string; password: string };
  /** `mlflow-artifacts:/` (default, `--serve-artifacts`) or another URI, e.g. `s3://bucket/mlflow`. */
  defaultArtifactRoot?: string;
  /** false refuses values over the limits instead of truncating (MLFLOW_TRUNCATE_LONG_VALUES=false). */
  truncateLongValues?: boolean;
  /** 'ignore' keeps one of identical metric points (the SQL store, default); 'append' keeps all (the file store). */
  duplicateMetrics?: 'ignore' | 'append';
}

export interface MlflowTestExperiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
  creationTime: number;
  lastUpdateTime: number;
  tags: Record<string, string>;
}

export interface MlflowTestMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface MlflowTestRun {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Every stored point per key, in the order logged. */
  metrics: Record<string, MlflowTestMetric[]>;
}

export interface MlflowTestRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The parsed JSON body, or the byte count of an artifact upload. */
  body?: unknown;
  status: number;
  errorCode?: string;
  at: number;
}

type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
const RUN_STATUSES: RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];

/** ERROR_CODE_TO_HTTP_STATUS in mlflow/exceptions.py. */
const HTTP_STATUS: Record<string, number> = {
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  TEMPORARILY_UNAVAILABLE: 503,
  REQUEST_LIMIT_EXCEEDED: 429,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  BAD_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_PARAMETER_VALUE: 400,
};

const LIMITS = { paramsTags: 100, metrics: 1000, entities: 1000, requestBytes: 1_000_000, key: 250, paramValue: 6000, tagValue: 8000, experimentName: 500, searchResults: 50_000 };

const VALID_NAME = /^[/\p{L}\p{N}_.\- ]*$/u;
const EXPERIMENT_ID = /^[a-zA-Z0-9][\w-]{0,63}$/;

const FLASK_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';
const FLASK_405 = '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n';
const UNAUTHENTICATED_TEXT = 'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.';

/** An MLflowException: serialised as {error_code, message} with the code's HTTP status. */
class MlflowError extends Error {
  constructor(
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new MlflowError('INVALID_PARAMETER_VALUE', message);

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  html?: string;
  bytes?: Buffer;
  headers?: Record<string, string>;
  errorCode?: string;
}

interface Experiment {
  id: string;
  name: string;
  artifactLocation: string;
  lifecycle: 'active' | 'deleted';
  created: number;
  updated: number;
  tags: Map<string, string>;
}

interface Run {
  id: string;
  experimentId: string;
  name: string;
  userId: string;
  status: RunStatus;
  start: number;
  end?: number;
  artifactUri: string;
  lifecycle: 'active' | 'deleted';
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: Map<string, MlflowTestMetric[]>;
  created: number;
}

interface Injected {
  route?: string;
  status: number | 'reset';
  applied: boolean;
  retryAfter?: number;
  errorCode?: string;
  message?: string;
}

/** Python's posixpath.normpath, behind MLflow's "must not resolve to other names" rule. */
function normpath(path: string): string {
  if (path === '') return '.';
  const lead = path.startsWith('/') ? (path.startsWith('//') && !path.startsWith('///') ? 2 : 1) : 0;
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..' || (!lead && out.length === 0) || out[out.length - 1] === '..') out.push(part);
    else if (out.length) out.pop();
  }
  return '/'.repeat(lead) + out.join('/') || '.';
}

const pyLen = (s: string) => [...s].length;

/** `_validate_metric_name` / `_validate_param_name` / `_validate_tag_name`. */
function validateName(kind: 'metric' | 'parameter' | 'tag', name: unknown): string {
  if (name === undefined || name === null) throw invalid(`${kind === 'parameter' ? 'Parameter' : kind === 'metric' ? 'Metric' : 'Tag'} name cannot be None. A key name must be provided.`);
  const key = String(name);
  if (!VALID_NAME.test(key)) throw invalid(`Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`);
  const norm = normpath(key);
  if (norm !== key || norm === '.' || norm.startsWith('..') || norm.startsWith('/')) {
    throw invalid(`Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${norm}'`);
  }
  return key;
}

/** `_validate_length_limit`, truncating where MLflow truncates. */
function lengthLimit(entity: string, limit: number, value: string, truncate: boolean): string {
  if (pyLen(value) <= limit) return value;
  if (truncate) return [...value].slice(0, limit).join('');
  throw invalid(`${entity} '${[...value].slice(0, 250).join('')}' had length ${pyLen(value)}, which exceeded length limit of ${limit}`);
}

const pyType = (v: unknown) =>
  v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : 'dict';
const schemaError = (field: string, value: unknown) =>
  invalid(`Invalid value ${JSON.stringify(value)} for parameter '${field}' supplied. Hint: Value was of type '${pyType(value)}'. See the API docs for more information about request parameters.`);
const missingError = (field: string) => invalid(`Missing value for required parameter '${field}'. See the API docs for more information about request parameters.`);

function requiredString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (v === undefined || v === null || v === '') throw missingError(field);
  if (typeof v !== 'string') throw schemaError(field, v);
  return v;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw schemaError(field, v);
  return v;
}

/** int64 as proto JSON takes it: a number or a string of digits. */
function int64(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  throw schemaError(field, value);
}

function array(body: Record<string, unknown>, field: string): Array<Record<string, unknown>> {
  const v = body[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw schemaError(field, v);
  return v as Array<Record<string, unknown>>;
}

/** A double as proto JSON takes it: a number, "NaN", "Infinity", "-Infinity" or a numeric string. */
function double(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : undefined;
}

const doubleJson = (v: number): number | string => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');

/** `append_to_uri_path`. */
const joinUri = (base: string, ...parts: string[]) => parts.reduce((acc, p) => `${acc.replace(/\/+$/, '')}/${p}`, base.endsWith(':/') ? base.slice(0, -1) : base);

const ADJECTIVES = ['brave', 'calm', 'eager', 'gentle', 'jolly', 'kind', 'lively', 'proud', 'silly', 'witty'];
const NOUNS = ['ant', 'bee', 'cat', 'doe', 'eel', 'fox', 'gnu', 'hen', 'owl', 'yak'];

/** `_generate_random_name`: what MLflow names a run created without one. */
const randomRunName = () => `${ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)]}-${NOUNS[Math.floor(Math.random() * NOUNS.length)]}-${Math.floor(Math.random() * 1000)}`;

/** A compiled `runs/search` filter clause. */
type Clause = (run: Run) => boolean;

function likeRegex(pattern: string, flags: string): RegExp {
  const body = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** SearchUtils' filter grammar, the parts a tracking client uses: `entity.key op value` joined by AND. */
function parseFilter(filter: string): Clause[] {
  if (!filter.trim()) return [];
  const clauses: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charAt(i);
    if (quote) {
      if (c === quote) quote = null;
      current += c;
    } else if (c === "'" || c === '"' || c === '`') {
      quote = c;
      current += c;
    } else if (/^\s+and\s+/i.test(filter.slice(i)) && /\s/.test(c)) {
      clauses.push(current);
      current = '';
      i += (/^\s+and\s+/i.exec(filter.slice(i)) as RegExpExecArray)[0].length - 1;
    } else current += c;
  }
  if (quote) throw invalid(`Invalid filter '${filter}'. Could not be parsed.`);
  clauses.push(current);
  return clauses.map((clause) => parseClause(clause.trim(), filter));
}

function parseClause(clause: string, filter: string): Clause {
  const m = /^([A-Za-z_]+)\.(`[^`]+`|"[^"]+"|[\w.]+)\s*(!=|>=|<=|=|<|>|(?:not\s+)?i?like\b|(?:not\s+)?in\b)\s*(.+)$/is.exec(clause);
  if (!m) throw invalid(`Invalid clause(s) in filter string: '${clause}'`);
  const [, rawEntity = '', rawKey = '', rawOp = '', rawValue = ''] = m;
  const entity = rawEntity.toLowerCase();
  const key = /^[`"]/.test(rawKey) ? rawKey.slice(1, -1) : rawKey;
  const op = rawOp.toUpperCase().replace(/\s+/g, ' ');
  const value = rawValue.trim();
  const stringValue = () => {
    const q = /^'([^']*)'$|^"([^"]*)"$/.exec(value);
    if (!q) throw invalid(`Parameter value is either not quoted or unidentified quote types used for string value ${value}. Use either single or double quotes.`);
    return q[1] ?? q[2] ?? '';
  };
  const numberValue = () => {
    const n = Number(value);
    if (value === '' || Number.isNaN(n)) throw invalid(`Expected numeric value type for metric. Found ${value}`);
    return n;
  };
  const compareString = (actual: string | undefined): boolean => {
    if (actual === undefined) return false;
    if (op === 'IN' || op === 'NOT IN') {
      const list = /^\((.*)\)$/s.exec(value);
      if (!list) throw invalid(`While parsing a list in the query, expected a non-empty list of string values, but got ${value}`);
      const items = (list[1] ?? '')
        .split(',')
        .map((s) => /^\s*'([^']*)'\s*$|^\s*"([^"]*)"\s*$/.exec(s))
        .map((q) => (q ? (q[1] ?? q[2]) : undefined));
      if (items.some((i) => i === undefined)) throw invalid(`While parsing a list in the query, expected string value, got ${value}`);
      return items.includes(actual) === (op === 'IN');
    }
    const expected = stringValue();
    switch (op) {
      case '=':
        return actual === expected;
      case '!=':
        return actual !== expected;
      case 'LIKE':
        return likeRegex(expected, 's').test(actual);
      case 'ILIKE':
        return likeRegex(expected, 'is').test(actual);
      case 'NOT LIKE':
        return !likeRegex(expected, 's').test(actual);
      case 'NOT ILIKE':
        return !likeRegex(expected, 'is').test(actual);
      default:
        throw invalid(`Invalid comparator '${op}' not one of '['!=', '=', 'LIKE', 'ILIKE']'`);
    }
  };
  const compareNumber = (actual: number | undefined): boolean => {
    if (actual === undefined) return false;
    const expected = numberValue();
    switch (op) {
      case '=':
        return actual === expected;
      case '!=':
        return actual !== expected;
      case '<':
        return actual < expected;
      case '<=':
        return actual <= expected;
      case '>':
        return actual > expected;
      case '>=':
        return actual >= expected;
      default:
        throw invalid(`Invalid comparator '${op}' not one of '['>', '>=', '!=', '=', '<=', '<']'`);
    }
  };
  if (entity === 'tags' || entity === 'tag') {
    compareString('');
    return (run) => compareString(run.tags.get(key));
  }
  if (entity === 'params' || entity === 'param' || entity === 'parameters' || entity === 'parameter') {
    compareString('');
    return (run) => compareString(run.params.get(key));
  }
  if (entity === 'metrics' || entity === 'metric') {
    compareNumber(0);
    return (run) => compareNumber(latestMetric(run, key)?.value);
  }
  if (entity === 'attributes' || entity === 'attribute' || entity === 'attr' || entity === 'run') {
    const attr: Record<string, (run: Run) => string | undefined> = {
      run_id: (r) => r.id,
      run_name: (r) => r.name,
      status: (r) => r.status,
      user_id: (r) => r.userId,
      artifact_uri: (r) => r.artifactUri,
    };
    const read = attr[key];
    if (read) {
      compareString('');
      return (run) => compareString(read(run));
    }
    if (key === 'start_time' || key === 'end_time') {
      compareNumber(0);
      return (run) => compareNumber(key === 'start_time' ? run.start : run.end);
    }
    throw invalid(`Invalid attribute key '${key}' specified. Valid keys are '${['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'end_time'].join("', '")}'`);
  }
  throw invalid(`Invalid entity type '${rawEntity}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset'] in filter '${filter}'`);
}

/** The point MLflow reports as a metric's value: the greatest (step, timestamp, value). */
function latestMetric(run: Run, key: string): MlflowTestMetric | undefined {
  let best: MlflowTestMetric | undefined;
  for (const m of run.metrics.get(key) ?? []) {
    if (!best || m.step > best.step || (m.step === best.step && (m.timestamp > best.timestamp || (m.timestamp === best.timestamp && m.value > best.value)))) best = m;
  }
  return best;
}

function runComparator(orderBy: string[]): (a: Run, b: Run) => number {
  const keys = orderBy.map((clause) => {
    const m = /^\s*(?:(?:attributes?|attr|run)\.)?(start_time|end_time|run_name|run_id)\s*(ASC|DESC)?\s*$/i.exec(clause);
    if (!m) throw invalid(`Invalid order_by clause '${clause}'.`);
    const field = (m[1] ?? '').toLowerCase();
    const dir = (m[2] ?? 'ASC').toUpperCase() === 'DESC' ? -1 : 1;
    const get = (r: Run): string | number => (field === 'start_time' ? r.start : field === 'end_time' ? (r.end ?? -1) : field === 'run_name' ? r.name : r.id);
    return { get, dir };
  });
  keys.push({ get: (r) => r.start, dir: -1 }, { get: (r) => r.id, dir: 1 });
  return (a, b) => {
    for (const { get, dir } of keys) {
      const x = get(a);
      const y = get(b);
      if (x < y) return -dir;
      if (x > y) return dir;
    }
    return 0;
  };
}

const pageToken = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64');

function pageOffset(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  try {
    const offset = (JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as { offset?: unknown }).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // Falls through to MLflow's error for a token it cannot read.
  }
  throw invalid(`Invalid page token, could not base64-decode`);
}

/** `validate_path_is_safe`: no traversal, no absolute paths, no encoded tricks. */
function safeArtifactPath(path: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    throw invalid(`Invalid path`);
  }
  if (decoded.includes('\0') || decoded.startsWith('/') || decoded.includes('\\') || decoded.split('/').some((p) => p === '..' || p === '.') || /%2e|%2f/i.test(decoded)) {
    throw invalid(`Invalid path`);
  }
  return decoded;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startMlflowTestServer(options: MlflowTestServerOptions = {}): Promise<MlflowTestServer> {
  const artifactRoot = options.defaultArtifactRoot ?? 'mlflow-artifacts:/';
  const servesArtifacts = artifactRoot.startsWith('mlflow-artifacts:');
  const truncate = options.truncateLongValues ?? true;
  const appendDuplicates = options.duplicateMetrics === 'append';
  const experiments = new Map<string, Experiment>();
  const runs = new Map<string, Run>();
  const artifacts = new Map<string, Buffer>();
  const requests: MlflowTestRequest[] = [];
  const injected: Injected[] = [];
  let nextExperimentId = 1;
  let runCounter = 0;

  const born = Date.now();
  experiments.set('0', { id: '0', name: 'Default', artifactLocation: joinUri(artifactRoot, '0'), lifecycle: 'active', created: born, updated: born, tags: new Map() });

  const experimentJson = (e: Experiment) => ({
    experiment_id: e.id,
    name: e.name,
    artifact_location: e.artifactLocation,
    lifecycle_stage: e.lifecycle,
    last_update_time: e.updated,
    creation_time: e.created,
    ...(e.tags.size ? { tags: [...e.tags].map(([key, value]) => ({ key, value })) } : {}),
  });
  const infoJson = (r: Run) => ({
    run_uuid: r.id,
    run_name: r.name,
    experiment_id: r.experimentId,
    user_id: r.userId,
    status: r.status,
    start_time: r.start,
    ...(r.end !== undefined ? { end_time: r.end } : {}),
    artifact_uri: r.artifactUri,
    lifecycle_stage: r.lifecycle,
    run_id: r.id,
  });
  const runJson = (r: Run) => {
    const metrics = [...r.metrics.keys()].map((k) => latestMetric(r, k) as MlflowTestMetric).map((m) => ({ key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step }));
    const kv = (map: Map<string, string>) => [...map].map(([key, value]) => ({ key, value }));
    return {
      info: infoJson(r),
      data: { ...(metrics.length ? { metrics } : {}), ...(r.params.size ? { params: kv(r.params) } : {}), ...(r.tags.size ? { tags: kv(r.tags) } : {}) },
      inputs: {},
    };
  };

  const findExperiment = (id: string) => {
    const e = experiments.get(id);
    if (!e) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
    return e;
  };
  const findRun = (id: string) => {
    const r = runs.get(id);
    if (!r) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
    return r;
  };
  const activeRun = (id: string) => {
    const r = findRun(id);
    if (r.lifecycle !== 'active') throw invalid(`The run ${id} must be in the 'active' state. Current state is ${r.lifecycle}.`);
    return r;
  };
  const runIdOf = (body: Record<string, unknown>) => {
    if ((body.run_id === undefined || body.run_id === '') && typeof body.run_uuid === 'string' && body.run_uuid) return body.run_uuid;
    return requiredString(body, 'run_id');
  };
  const validTags = (entries: Array<Record<string, unknown>>, field: string) =>
    entries.map((t, i) => {
      if (t.key === undefined || t.key === null || t.key === '') throw missingError(`${field}[${i}].key`);
      const key = validateName('tag', t.key);
      lengthLimit('Tag key', LIMITS.key, key, false);
      return { key, value: lengthLimit('Tag value', LIMITS.tagValue, String(t.value ?? ''), truncate) };
    });

  const handlers: Record<string, { method: 'GET' | 'POST'; handle: (body: Record<string, unknown>, raw: Buffer) => unknown }> = {
    'experiments/get-by-name': {
      method: 'GET',
      handle(q) {
        const name = requiredString(q, 'experiment_name');
        const e = [...experiments.values()].find((x) => x.name === name);
        if (!e) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
        return { experiment: experimentJson(e) };
      },
    },
    'experiments/get': {
      method: 'GET',
      handle(q) {
        return { experiment: experimentJson(findExperiment(requiredString(q, 'experiment_id'))) };
      },
    },
    'experiments/create': {
      method: 'POST',
      handle(body) {
        const name = requiredString(body, 'name');
        if (pyLen(name) > LIMITS.experimentName) throw invalid(`Experiment name exceeds the maximum length of ${LIMITS.experimentName} characters`);
        const location = optionalString(body, 'artifact_location');
        if (location?.startsWith('runs:')) throw invalid(`Artifact location cannot be a runs:/ URI. Given: '${location}'`);
        const tags = validTags(array(body, 'tags'), 'tags');
        if ([...experiments.values()].some((e) => e.name === name)) throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment(name=${name}) already exists.`);
        const id = String(nextExperimentId++);
        const now = Date.now();
        experiments.set(id, { id, name, artifactLocation: location || joinUri(artifactRoot, id), lifecycle: 'active', created: now, updated: now, tags: new Map(tags.map((t) => [t.key, t.value])) });
        return { experiment_id: id };
      },
    },
    'experiments/delete': {
      method: 'POST',
      handle(body) {
        const e = findExperiment(requiredString(body, 'experiment_id'));
        if (e.lifecycle !== 'active') throw invalid(`Cannot delete an already deleted experiment.`);
        e.lifecycle = 'deleted';
        e.updated = Date.now();
        for (const r of runs.values()) if (r.experimentId === e.id) r.lifecycle = 'deleted';
        return {};
      },
    },
    'runs/create': {
      method: 'POST',
      handle(body) {
        const experimentId = optionalString(body, 'experiment_id') || '0';
        if (!EXPERIMENT_ID.test(experimentId)) throw invalid(`Invalid experiment ID: '${experimentId}'`);
        const e = findExperiment(experimentId);
        if (e.lifecycle !== 'active') throw new MlflowError('INVALID_STATE', `The experiment ${experimentId} must be in the 'active' state. Current state is ${e.lifecycle}.`);
        const start = int64(body.start_time, 'start_time') ?? 0;
        let name = optionalString(body, 'run_name');
        const tags = validTags(array(body, 'tags'), 'tags');
        const nameTag = tags.find((t) => t.key === 'mlflow.runName')?.value;
        if (name && nameTag && name !== nameTag) {
          throw invalid(`Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${name}', mlflow.runName='${nameTag}').`);
        }
        name = name || nameTag || randomRunName();
        const id = randomUUID().replace(/-/g, '');
        const run: Run = {
          id,
          experimentId,
          name,
          userId: optionalString(body, 'user_id') ?? '',
          status: 'RUNNING',
          start,
          artifactUri: joinUri(e.artifactLocation, id, 'artifacts'),
          lifecycle: 'active',
          params: new Map(),
          tags: new Map([...tags.map((t) => [t.key, t.value] as const), ['mlflow.runName', name]]),
          metrics: new Map(),
          created: runCounter++,
        };
        runs.set(id, run);
        return { run: runJson(run) };
      },
    },
    'runs/update': {
      method: 'POST',
      handle(body) {
        const run = activeRun(runIdOf(body));
        const status = body.status;
        if (status !== undefined && status !== null) {
          const named = typeof status === 'number' ? RUN_STATUSES[status - 1] : RUN_STATUSES.find((s) => s === status);
          if (!named) throw schemaError('status', status);
          run.status = named;
        }
        const end = int64(body.end_time, 'end_time');
        if (end !== undefined) run.end = end;
        const name = optionalString(body, 'run_name');
        if (name) {
          run.name = name;
          run.tags.set('mlflow.runName', name);
        }
        return { run_info: infoJson(run) };
      },
    },
    'runs/delete': {
      method: 'POST',
      handle(body) {
        findRun(requiredString(body, 'run_id')).lifecycle = 'deleted';
        return {};
      },
    },
    'runs/get': {
      method: 'GET',
      handle(q) {
        return { run: runJson(findRun(runIdOf(q))) };
      },
    },
    'runs/search': {
      method: 'POST',
      handle(body) {
        const ids = array(body, 'experiment_ids').map((id) => String(id));
        const filter = optionalString(body, 'filter') ?? '';
        const view = body.run_view_type ?? 'ACTIVE_ONLY';
        const views: Record<string, Array<'active' | 'deleted'>> = {
          ACTIVE_ONLY: ['active'],
          DELETED_ONLY: ['deleted'],
          ALL: ['active', 'deleted'],
          1: ['active'],
          2: ['deleted'],
          3: ['active', 'deleted'],
        };
        const stages = views[String(view)];
        if (!stages) throw schemaError('run_view_type', view);
        const max = int64(body.max_results, 'max_results') ?? 1000;
        if (max > LIMITS.searchResults) throw invalid(`Invalid value ${max} for parameter 'max_results' supplied. It must be at most ${LIMITS.searchResults}`);
        if (max < 1) throw invalid(`Invalid value ${max} for parameter 'max_results' supplied. It must be a positive integer`);
        const orderBy = array(body, 'order_by');
        if (orderBy.some((o) => typeof o !== 'string')) throw schemaError('order_by', orderBy);
        const clauses = parseFilter(filter);
        const offset = pageOffset(body.page_token);
        const matching = [...runs.values()]
          .filter((r) => ids.includes(r.experimentId) && stages.includes(r.lifecycle) && clauses.every((c) => c(r)))
          .sort(runComparator(orderBy as unknown as string[]));
        const page = matching.slice(offset, offset + max);
        return {
          ...(page.length ? { runs: page.map(runJson) } : {}),
          ...(offset + max < matching.length ? { next_page_token: pageToken(offset + max) } : {}),
        };
      },
    },
    'runs/log-batch': {
      method: 'POST',
      handle(body, raw) {
        if (raw.length > LIMITS.requestBytes) throw invalid(`Batched logging API requests must be at most ${LIMITS.requestBytes} bytes, got a request of size ${raw.length}.`);
        const runId = runIdOf(body);
        const metricsIn = array(body, 'metrics');
        const paramsIn = array(body, 'params');
        const tagsIn = array(body, 'tags');
        metricsIn.forEach((m, i) => {
          for (const f of ['key', 'value', 'timestamp']) if (m[f] === undefined || m[f] === null || m[f] === '') throw missingError(`metrics[${i}].${f}`);
        });
        paramsIn.forEach((p, i) => {
          if (p.key === undefined || p.key === null || p.key === '') throw missingError(`params[${i}].key`);
        });
        tagsIn.forEach((t, i) => {
          if (t.key === undefined || t.key === null || t.key === '') throw missingError(`tags[${i}].key`);
        });
        const metrics = metricsIn.map((m) => {
          const key = validateName('metric', m.key);
          const value = typeof m.value === 'boolean' ? undefined : double(m.value);
          if (value === undefined)
            throw invalid(`Got invalid value ${String(m.value)} for metric '${key}' (timestamp=${String(m.timestamp)}). Please specify value as a valid double (64-bit floating point)`);
          const timestamp = int64(m.timestamp, 'timestamp');
          if (timestamp === undefined || timestamp < 0)
            throw invalid(`Got invalid timestamp ${String(m.timestamp)} for metric '${key}' (value=${value}). Timestamp must be a nonnegative long (64-bit integer) `);
          const step = m.step === undefined || m.step === null ? 0 : int64(m.step, 'step');
          if (step === undefined) throw invalid(`Got invalid step ${String(m.step)} for metric '${key}' (value=${value}). Step must be a valid long (64-bit integer).`);
          lengthLimit('Metric name', LIMITS.key, key, false);
          return { key, value, timestamp, step };
        });
        const params = paramsIn.map((p) => {
          const key = validateName('parameter', p.key);
          lengthLimit('Param key', LIMITS.key, key, false);
          return { key, value: lengthLimit('Param value', LIMITS.paramValue, String(p.value ?? ''), truncate) };
        });
        const tags = validTags(tagsIn, 'tags');
        const batchLimit = (entity: string, limit: number, length: number) => {
          if (length > limit) {
            throw invalid(`A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. Please split up ${entity} across multiple requests and try again.`);
          }
        };
        batchLimit('metrics', LIMITS.metrics, metrics.length);
        batchLimit('params', LIMITS.paramsTags, params.length);
        batchLimit('tags', LIMITS.paramsTags, tags.length);
        batchLimit('metrics, params, and tags', LIMITS.entities, metrics.length + params.length + tags.length);
        const dupes = params.map((p) => p.key).filter((k, i, all) => all.indexOf(k) !== i);
        if (dupes.length) {
          throw invalid(`Duplicate parameter keys have been submitted: [${dupes.map((d) => `'${d}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`);
        }
        const run = activeRun(runId);
        for (const p of params) {
          const have = run.params.get(p.key);
          if (have !== undefined && have !== p.value) {
            throw invalid(`Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${have}' for run ID='${runId}'. Attempted logging new value '${p.value}'.`);
          }
        }
        for (const p of params) run.params.set(p.key, p.value);
        for (const m of metrics) {
          const history = run.metrics.get(m.key) ?? [];
          const same = (x: MlflowTestMetric) => x.step === m.step && x.timestamp === m.timestamp && (x.value === m.value || (Number.isNaN(x.value) && Number.isNaN(m.value)));
          if (appendDuplicates || !history.some(same)) history.push(m);
          run.metrics.set(m.key, history);
        }
        for (const t of tags) {
          run.tags.set(t.key, t.value);
          if (t.key === 'mlflow.runName') run.name = t.value;
        }
        return {};
      },
    },
    'metrics/get-history': {
      method: 'GET',
      handle(q) {
        const run = findRun(runIdOf(q));
        const key = requiredString(q, 'metric_key');
        const history = run.metrics.get(key) ?? [];
        const max = int64(q.max_results, 'max_results');
        const offset = pageOffset(q.page_token);
        const page = max === undefined ? history.slice(offset) : history.slice(offset, offset + max);
        return {
          ...(page.length ? { metrics: page.map((m) => ({ key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step })) } : {}),
          ...(max !== undefined && offset + max < history.length ? { next_page_token: pageToken(offset + max) } : {}),
        };
      },
    },
  };

  /** Auth as an auth layer in front of MLflow answers: 401 without valid credentials, 403 for a reader writing. */
  const authorize = (req: IncomingMessage): Reply | undefined => {
    if (!options.token && !options.basicAuth && !options.readOnlyToken) return undefined;
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1];
    const basic = /^Basic\s+(.+)$/i.exec(header)?.[1];
    const basicOk = basic !== undefined && options.basicAuth && Buffer.from(basic, 'base64').toString('utf8') === `${options.basicAuth.username}:${options.basicAuth.password}`;
    if ((bearer !== undefined && bearer === options.token) || basicOk) return undefined;
    if (bearer !== undefined && bearer === options.readOnlyToken) {
      return req.method === 'GET' ? undefined : { status: 403, text: 'Permission denied', errorCode: 'PERMISSION_DENIED' };
    }
    return { status: 401, text: UNAUTHENTICATED_TEXT, headers: { 'www-authenticate': options.basicAuth ? 'Basic realm="mlflow"' : 'Bearer' }, errorCode: 'UNAUTHENTICATED' };
  };

  const injectedReply = (inj: Injected): Reply => {
    const status = inj.status as number;
    if (status === 429) {
      return {
        status,
        json: { error_code: 'REQUEST_LIMIT_EXCEEDED', message: `Too many requests. Please retry after ${inj.retryAfter} seconds.` },
        headers: { 'retry-after': String(inj.retryAfter) },
        errorCode: 'REQUEST_LIMIT_EXCEEDED',
      };
    }
    if (status === 502 || status === 504) return { status, html: `<html><body><h1>${status} ${status === 502 ? 'Bad Gateway' : 'Gateway Time-out'}</h1></body></html>`, errorCode: `HTTP_${status}` };
    const errorCode = inj.errorCode ?? (status === 503 ? 'TEMPORARILY_UNAVAILABLE' : status === 400 ? 'INVALID_PARAMETER_VALUE' : status === 404 ? 'RESOURCE_DOES_NOT_EXIST' : 'INTERNAL_ERROR');
    return { status, json: { error_code: errorCode, message: inj.message ?? `injected ${status}` }, errorCode };
  };

  const dispatch = async (req: IncomingMessage, url: URL, raw: Buffer, log: MlflowTestRequest): Promise<Reply> => {
    const denied = authorize(req);
    if (denied) return denied;
    const artifactPath = /^\/api\/2\.0\/mlflow-artifacts\/artifacts\/(.+)$/.exec(url.pathname)?.[1];
    if (artifactPath !== undefined) {
      if (req.method !== 'PUT' && req.method !== 'GET') return { status: 405, html: FLASK_405 };
      if (!servesArtifacts) {
        return {
          status: 503,
          text: 'Endpoint: /mlflow-artifacts/artifacts/<path:artifact_path> disabled due to the mlflow server running with `--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`',
        };
      }
      const path = safeArtifactPath(artifactPath);
      if (req.method === 'PUT') {
        log.body = raw.length;
        artifacts.set(path, raw);
        return { status: 200, json: {} };
      }
      const stored = artifacts.get(path);
      if (!stored) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No such file or directory: '${path}'`);
      return { status: 200, bytes: stored };
    }
    const route = /^\/api\/2\.0\/mlflow\/(.+)$/.exec(url.pathname)?.[1];
    const handler = route ? handlers[route] : undefined;
    if (!handler) return { status: 404, html: FLASK_404 };
    if (req.method !== handler.method) return { status: 405, html: FLASK_405 };
    let body: Record<string, unknown>;
    if (handler.method === 'GET') body = Object.fromEntries(url.searchParams);
    else {
      const type = req.headers['content-type'];
      if (!type) throw invalid('Bad Request. Content-Type header is missing.');
      if ((type.split(';')[0] ?? '').trim() !== 'application/json') throw invalid(`Bad Request. Content-Type must be one of ['application/json'].`);
      let parsed: unknown;
      try {
        parsed = raw.length ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        parsed = {};
      }
      body = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
      log.body = parsed;
    }
    return { status: 200, json: await handler.handle(body, raw) };
  };

  const send = (res: ServerResponse, reply: Reply) => {
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    let payload: string | Buffer;
    if (reply.bytes) {
      headers['content-type'] = 'application/octet-stream';
      payload = reply.bytes;
    } else if (reply.html !== undefined) {
      headers['content-type'] = 'text/html; charset=utf-8';
      payload = reply.html;
    } else if (reply.text !== undefined) {
      headers['content-type'] = 'text/plain; charset=utf-8';
      payload = reply.text;
    } else {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(reply.json ?? {});
    }
    res.writeHead(reply.status, headers);
    res.end(payload);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const raw = await readBody(req);
      const log: MlflowTestRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0, at: Date.now() };
      requests.push(log);
      const slot = injected.findIndex((i) => !i.route || url.pathname.includes(i.route));
      const inj = slot === -1 ? undefined : injected.splice(slot, 1)[0];
      if (inj && !inj.applied && inj.status === 'reset') {
        req.socket.destroy();
        return;
      }
      let reply: Reply;
      if (inj && !inj.applied) reply = injectedReply(inj);
      else {
        try {
          reply = await dispatch(req, url, raw, log);
        } catch (err) {
          const e = err instanceof MlflowError ? err : new MlflowError('INTERNAL_ERROR', (err as Error).message);
          reply = { status: HTTP_STATUS[e.errorCode] ?? 500, json: { error_code: e.errorCode, message: e.message }, errorCode: e.errorCode };
        }
        if (inj?.status === 'reset') {
          req.socket.destroy();
          return;
        }
        if (inj) reply = injectedReply(inj);
      }
      log.status = reply.status;
      if (reply.errorCode) log.errorCode = reply.errorCode;
      send(res, reply);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const snapshotRun = (r: Run): MlflowTestRun => ({
    runId: r.id,
    experimentId: r.experimentId,
    runName: r.name,
    userId: r.userId,
    status: r.status,
    startTime: r.start,
    ...(r.end !== undefined ? { endTime: r.end } : {}),
    artifactUri: r.artifactUri,
    lifecycleStage: r.lifecycle,
    params: Object.fromEntries(r.params),
    tags: Object.fromEntries(r.tags),
    metrics: Object.fromEntries([...r.metrics].map(([k, v]) => [k, v.map((m) => ({ ...m }))])),
  });

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    experiments: () =>
      [...experiments.values()].map((e) => ({
        experimentId: e.id,
        name: e.name,
        artifactLocation: e.artifactLocation,
        lifecycleStage: e.lifecycle,
        creationTime: e.created,
        lastUpdateTime: e.updated,
        tags: Object.fromEntries(e.tags),
      })),
    runs: (experimentId) =>
      [...runs.values()]
        .filter((r) => experimentId === undefined || r.experimentId === experimentId)
        .sort((a, b) => a.created - b.created)
        .map(snapshotRun),
    run: (runId) => {
      const r = runs.get(runId);
      return r ? snapshotRun(r) : undefined;
    },
    artifact: (path) => artifacts.get(path),
    failNext(count, status = 503, route, opts = {}) {
      for (let i = 0; i < count; i++) injected.push({ route, status, applied: opts.applied ?? false, errorCode: opts.errorCode, message: opts.message });
    },
    rateLimitNext(count, retryAfterSeconds = 1, route) {
      for (let i = 0; i < count; i++) injected.push({ route, status: 429, applied: false, retryAfter: retryAfterSeconds });
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
