import { MlflowRejected, MlflowUnavailable } from './mlflow-errors';
import { mirrorRun, type MirrorOptions, type MirrorResult } from './mlflow-mirror';
import { MLFLOW_LIMITS, type MlflowRunStatus } from './mlflow-rules';
import type { MetricPoint, TrackedRun } from './tracked-run';

/** The shapes of MLflow's REST API (service.proto as JSON), field names as on the wire. */
export interface MlflowKeyValue {
  key: string;
  /** Absent in answers when empty (proto JSON drops empty strings it did not set). */
  value?: string;
}

export interface MlflowExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time?: number;
  last_update_time?: number;
  tags?: MlflowKeyValue[];
}

export interface MlflowRunInfo {
  run_id: string;
  run_uuid?: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: MlflowRunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: 'active' | 'deleted';
}

export interface MlflowMetric {
  key: string;
  /** A number, or "NaN" / "Infinity" / "-Infinity" as proto JSON writes non-finite doubles. */
  value: number | string;
  timestamp: number;
  step?: number;
}

export interface MlflowRun {
  info: MlflowRunInfo;
  data?: { metrics?: MlflowMetric[]; params?: MlflowKeyValue[]; tags?: MlflowKeyValue[] };
}

export interface LogBatch {
  metrics?: MetricPoint[];
  params?: MlflowKeyValue[];
  tags?: MlflowKeyValue[];
}

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  attempts: number;
  /** Full-jitter exponential backoff: a random wait up to min(maxDelayMs, baseDelayMs × 2^(attempt-1)). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A 429/503 Retry-After longer than this is not waited out: MlflowUnavailable carries it to the caller. */
  maxRetryAfterMs: number;
}

export interface MlflowClientOptions {
  /** e.g. `https://mlflow.example.com` or `http://host:5000/prefix`; the API lives under `/api/2.0/`. */
  trackingUri: string;
  /** Sent as `Authorization: Bearer` (MLflow's MLFLOW_TRACKING_TOKEN). */
  token?: string;
  /** Basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); wins over token, as in MLflow's client. */
  username?: string;
  password?: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** ms since the epoch; used to read Retry-After given as an HTTP date. */
  now?: () => number;
  /** In [0, 1); the backoff jitter. */
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  /** Per HTTP exchange, body included; a timeout counts as a transient failure. */
  requestTimeoutMs?: number;
}

/** `retry: false` makes one attempt; a transient failure then surfaces as MlflowUnavailable at once. */
export interface CallOptions {
  retry?: boolean;
}

export interface SearchRunsRequest {
  experimentIds: string[];
  /** MLflow's search syntax, e.g. ``tags.`trainyard.run_id` = 'job-1-a1'``. */
  filter?: string;
  runViewType?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** MLflow's HTTP_STATUS_TO_ERROR_CODE, for answers without MLflow's JSON (proxies, auth layers). */
const STATUS_ERROR_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'ENDPOINT_NOT_FOUND',
  409: 'ALREADY_EXISTS',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL_ERROR',
  501: 'NOT_IMPLEMENTED',
  503: 'TEMPORARILY_UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** proto JSON has no literal for non-finite doubles; these strings are what it reads and writes. */
const encodeDouble = (v: number): number | string => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');

const decodeDouble = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

const metricJson = (m: MetricPoint) => ({ key: m.key, value: encodeDouble(m.value), timestamp: m.timestamp, step: m.step });

const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** The body of one `runs/log-batch` request. */
interface LogBatchBody {
  run_id: string;
  metrics: unknown[];
  params: MlflowKeyValue[];
  tags: MlflowKeyValue[];
}

/**
 * Splits a log-batch into requests MLflow accepts: at most 100 params, 100 tags, 1000 metrics and 1000
 * entities each, and under the 1 MB request limit (100 tags of 8000 characters would not be).
 */
function chunkBatch(runId: string, batch: LogBatch): LogBatchBody[] {
  const chunks: LogBatchBody[] = [];
  const fresh = (): LogBatchBody => ({ run_id: runId, metrics: [], params: [], tags: [] });
  let chunk = fresh();
  let size = bytesOf(chunk);
  const add = (kind: 'metrics' | 'params' | 'tags', entity: unknown) => {
    const entityBytes = bytesOf(entity) + 1;
    const limit = kind === 'metrics' ? MLFLOW_LIMITS.metricsPerBatch : MLFLOW_LIMITS.paramsTagsPerBatch;
    const total = chunk.metrics.length + chunk.params.length + chunk.tags.length;
    if (total > 0 && (chunk[kind].length >= limit || total >= MLFLOW_LIMITS.entitiesPerBatch || size + entityBytes > MLFLOW_LIMITS.batchRequestBytes)) {
      chunks.push(chunk);
      chunk = fresh();
      size = bytesOf(chunk);
    }
    (chunk[kind] as unknown[]).push(entity);
    size += entityBytes;
  };
  for (const p of batch.params ?? []) add('params', p);
  for (const t of batch.tags ?? []) add('tags', t);
  for (const m of batch.metrics ?? []) add('metrics', metricJson(m));
  if (chunk.metrics.length + chunk.params.length + chunk.tags.length > 0) chunks.push(chunk);
  return chunks;
}

/** A filter string literal; MLflow's parser has no escapes, so a value holding both quote kinds cannot be searched. */
function filterLiteral(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new MlflowRejected('INVALID_PARAMETER_VALUE', `cannot search for a value containing both quote characters: ${value}`);
}

/**
 * A client for MLflow's tracking REST API (`/api/2.0/mlflow/...`) and its artifact proxy
 * (`/api/2.0/mlflow-artifacts/artifacts/...`), with MLflow's auth conventions and retries: 429
 * (honouring Retry-After), 5xx, timeouts and network errors are retried with exponential backoff and
 * full jitter, then reported as MlflowUnavailable; any other 4xx is MlflowRejected at once.
 */
export class MlflowClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly authorization?: string;

  constructor(options: MlflowClientOptions) {
    const uri = new URL(options.trackingUri);
    if (uri.protocol !== 'http:' && uri.protocol !== 'https:') throw new Error(`MLflow tracking URI must be http(s), got ${options.trackingUri}`);
    this.base = options.trackingUri.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
    if (options.username !== undefined && options.password !== undefined) {
      this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
    } else if (options.token) {
      this.authorization = `Bearer ${options.token}`;
    }
  }

  /** The options MLflow's own client would take from its environment variables. */
  static optionsFromEnv(env: Record<string, string | undefined>): Pick<MlflowClientOptions, 'trackingUri' | 'token' | 'username' | 'password'> {
    const trackingUri = env.MLFLOW_TRACKING_URI;
    if (!trackingUri) throw new Error('MLFLOW_TRACKING_URI is not set');
    return { trackingUri, token: env.MLFLOW_TRACKING_TOKEN || undefined, username: env.MLFLOW_TRACKING_USERNAME || undefined, password: env.MLFLOW_TRACKING_PASSWORD || undefined };
  }

  /** null when MLflow has no experiment of that name (a deleted one is returned, lifecycle_stage 'deleted'). */
  async getExperimentByName(name: string, call?: CallOptions): Promise<MlflowExperiment | null> {
    try {
      const res = await this.request<{ experiment: MlflowExperiment }>('GET', 'mlflow/experiments/get-by-name', { query: { experiment_name: name } }, call);
      return res.experiment;
    } catch (err) {
      if (err instanceof MlflowRejected && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw err;
    }
  }

  async getExperiment(experimentId: string, call?: CallOptions): Promise<MlflowExperiment> {
    const res = await this.request<{ experiment: MlflowExperiment }>('GET', 'mlflow/experiments/get', { query: { experiment_id: experimentId } }, call);
    return res.experiment;
  }

  /** The new experiment's id. RESOURCE_ALREADY_EXISTS (MlflowRejected) when the name is taken. */
  async createExperiment(name: string, extra: { artifactLocation?: string; tags?: MlflowKeyValue[] } = {}, call?: CallOptions): Promise<string> {
    const body = { name, ...(extra.artifactLocation ? { artifact_location: extra.artifactLocation } : {}), ...(extra.tags ? { tags: extra.tags } : {}) };
    const res = await this.request<{ experiment_id: string }>('POST', 'mlflow/experiments/create', { json: body }, call);
    return String(res.experiment_id);
  }

  /**
   * The experiment of that name, created when missing. Safe against a concurrent creator and against
   * a retried create whose first answer was lost: both end in RESOURCE_ALREADY_EXISTS and a re-read.
   */
  async ensureExperiment(name: string): Promise<MlflowExperiment> {
    const found = await this.getExperimentByName(name);
    if (found) return found;
    try {
      return await this.getExperiment(await this.createExperiment(name));
    } catch (err) {
      if (!(err instanceof MlflowRejected) || err.errorCode !== 'RESOURCE_ALREADY_EXISTS') throw err;
      const raced = await this.getExperimentByName(name);
      if (!raced) throw err;
      return raced;
    }
  }

  /**
   * Not idempotent: a retry after a lost answer makes a second run. Callers that must not duplicate
   * pass `{ retry: false }` and search for the run between attempts, as mirror does.
   */
  async createRun(req: { experimentId: string; runName?: string; startTime?: number; tags?: MlflowKeyValue[]; userId?: string }, call?: CallOptions): Promise<MlflowRun> {
    const body = {
      experiment_id: req.experimentId,
      ...(req.runName !== undefined ? { run_name: req.runName } : {}),
      ...(req.startTime !== undefined ? { start_time: req.startTime } : {}),
      ...(req.userId !== undefined ? { user_id: req.userId } : {}),
      tags: req.tags ?? [],
    };
    const res = await this.request<{ run: MlflowRun }>('POST', 'mlflow/runs/create', { json: body }, call);
    return res.run;
  }

  async updateRun(req: { runId: string; status?: MlflowRunStatus; endTime?: number; runName?: string }, call?: CallOptions): Promise<MlflowRunInfo> {
    const body = {
      run_id: req.runId,
      ...(req.status ? { status: req.status } : {}),
      ...(req.endTime !== undefined ? { end_time: req.endTime } : {}),
      ...(req.runName !== undefined ? { run_name: req.runName } : {}),
    };
    const res = await this.request<{ run_info: MlflowRunInfo }>('POST', 'mlflow/runs/update', { json: body }, call);
    return res.run_info;
  }

  async getRun(runId: string, call?: CallOptions): Promise<MlflowRun> {
    const res = await this.request<{ run: MlflowRun }>('GET', 'mlflow/runs/get', { query: { run_id: runId } }, call);
    return res.run;
  }

  async searchRuns(req: SearchRunsRequest, call?: CallOptions): Promise<{ runs: MlflowRun[]; nextPageToken?: string }> {
    const body = {
      experiment_ids: req.experimentIds,
      ...(req.filter ? { filter: req.filter } : {}),
      run_view_type: req.runViewType ?? 'ACTIVE_ONLY',
      max_results: req.maxResults ?? 1000,
      ...(req.orderBy ? { order_by: req.orderBy } : {}),
      ...(req.pageToken ? { page_token: req.pageToken } : {}),
    };
    const res = await this.request<{ runs?: MlflowRun[]; next_page_token?: string }>('POST', 'mlflow/runs/search', { json: body }, call);
    return { runs: res.runs ?? [], ...(res.next_page_token ? { nextPageToken: res.next_page_token } : {}) };
  }

  /** The active run carrying this tag value; the oldest when, against all care, there are several. */
  async findRunByTag(experimentId: string, key: string, value: string, call?: CallOptions): Promise<MlflowRun | null> {
    if (key.includes('`')) throw new MlflowRejected('INVALID_PARAMETER_VALUE', `cannot search for a tag key containing a backtick: ${key}`);
    const { runs } = await this.searchRuns({ experimentIds: [experimentId], filter: `tags.\`${key}\` = ${filterLiteral(value)}`, orderBy: ['attributes.start_time ASC'], maxResults: 10 }, call);
    return runs[0] ?? null;
  }

  /** Logs in as many requests as MLflow's batch limits need, in order: params, tags, metrics. */
  async logBatch(runId: string, batch: LogBatch, call?: CallOptions): Promise<void> {
    for (const chunk of chunkBatch(runId, batch)) await this.request('POST', 'mlflow/runs/log-batch', { json: chunk }, call);
  }

  /** Every point MLflow holds for one metric of a run, all pages. */
  async getMetricHistory(runId: string, key: string, call?: CallOptions): Promise<MetricPoint[]> {
    const points: MetricPoint[] = [];
    let pageToken: string | undefined;
    do {
      const query: Record<string, string> = { run_id: runId, metric_key: key, max_results: '25000', ...(pageToken ? { page_token: pageToken } : {}) };
      const res = await this.request<{ metrics?: MlflowMetric[]; next_page_token?: string }>('GET', 'mlflow/metrics/get-history', { query }, call);
      for (const m of res.metrics ?? []) points.push({ key: m.key, value: decodeDouble(m.value), step: Number(m.step ?? 0), timestamp: Number(m.timestamp) });
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return points;
  }

  /**
   * Where bytes for `path` under a run's artifact root go through the tracking server's artifact proxy
   * (`mlflow server --serve-artifacts`), or undefined when the root is not proxied (s3://, file:, ...)
   * and only direct access to that storage could write there.
   */
  proxiedArtifactUrl(artifactUri: string, path: string): string | undefined {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    if (/^https?:\/\//.test(artifactUri) && artifactUri.includes('/api/2.0/mlflow-artifacts/artifacts/')) return `${artifactUri.replace(/\/+$/, '')}/${encoded}`;
    if (!artifactUri.startsWith('mlflow-artifacts:')) return undefined;
    const parsed = new URL(artifactUri);
    const base = parsed.host ? `${new URL(this.base).protocol}//${parsed.host}` : this.base;
    const root = parsed.pathname.replace(/^\/+/, '').replace(/\/+$/, '');
    return `${base}/api/2.0/mlflow-artifacts/artifacts/${root}/${encoded}`;
  }

  /** PUT bytes under a run's proxied artifact root; idempotent (the proxy overwrites). */
  async uploadArtifact(artifactUri: string, path: string, bytes: Uint8Array, call?: CallOptions): Promise<void> {
    const url = this.proxiedArtifactUrl(artifactUri, path);
    if (!url) throw new MlflowRejected('NOT_IMPLEMENTED', `artifact root ${artifactUri} is not served by the MLflow artifact proxy`);
    await this.request('PUT', 'mlflow-artifacts/artifacts', { url, bytes }, call);
  }

  /** Mirrors a Trainyard run into MLflow idempotently; see mirrorRun. */
  mirror(run: TrackedRun, options?: MirrorOptions): Promise<MirrorResult> {
    return mirrorRun(this, run, options);
  }

  /**
   * Runs `fn` under the client's retry policy: MlflowUnavailable from it is retried with backoff
   * (Retry-After honoured), anything else passes through. For compound steps that must look before
   * they retry (create-or-find a run; resend metrics without duplicating them).
   */
  async retrying<T>(route: string, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        if (!(err instanceof MlflowUnavailable)) throw err;
        if (err.retryAfterMs !== undefined && err.retryAfterMs > this.policy.maxRetryAfterMs) {
          throw new MlflowUnavailable(
            `${route}: MLflow asks to retry after ${Math.ceil(err.retryAfterMs / 1000)}s, longer than this client waits`,
            route,
            attempt,
            err.status,
            err.errorCode,
            err.retryAfterMs,
            { cause: err },
          );
        }
        if (attempt >= this.policy.attempts) {
          throw new MlflowUnavailable(`${route}: gave up after ${attempt} attempts: ${err.message}`, route, attempt, err.status, err.errorCode, err.retryAfterMs, { cause: err });
        }
        const backoff = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
        await this.sleep(err.retryAfterMs ?? Math.floor(this.random() * backoff));
      }
    }
  }

  private request<T = Record<string, never>>(
    method: 'GET' | 'POST' | 'PUT',
    route: string,
    req: { query?: Record<string, string>; json?: unknown; url?: string; bytes?: Uint8Array },
    call: CallOptions = {},
  ): Promise<T> {
    const once = () => this.once<T>(method, route, req);
    return call.retry === false ? once() : this.retrying(route, once);
  }

  /** One HTTP exchange: the parsed answer, MlflowRejected (permanent) or MlflowUnavailable (transient, attempts 1). */
  private async once<T>(method: string, route: string, req: { query?: Record<string, string>; json?: unknown; url?: string; bytes?: Uint8Array }): Promise<T> {
    const url = req.url ?? `${this.base}/api/2.0/${route}${req.query ? `?${new URLSearchParams(req.query)}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'trainyard-tracking' };
    if (this.authorization) headers.authorization = this.authorization;
    let body: string | Uint8Array | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.bytes) {
      headers['content-type'] = 'application/octet-stream';
      body = req.bytes;
    }
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await this.fetchImpl(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new MlflowUnavailable(`${method} ${route}: ${(err as Error).message}${cause?.code ? ` (${cause.code})` : ''}`, route, 1, undefined, undefined, undefined, { cause: err });
    }
    if (status >= 200 && status < 300) {
      if (!text) return {} as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new MlflowRejected('INVALID_RESPONSE', `${method} ${route} answered ${status} with something other than JSON: ${text.slice(0, 200)}`, status, route);
      }
    }
    let errorCode = STATUS_ERROR_CODES[status] ?? `HTTP_${status}`;
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error_code?: unknown; message?: unknown };
      if (typeof parsed.error_code === 'string') errorCode = parsed.error_code;
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // Not MLflow's JSON (a proxy's page): the status decides and the text is the message.
    }
    if (status === 429 || status >= 500) {
      throw new MlflowUnavailable(`${method} ${route}: ${status} ${errorCode}: ${message}`, route, 1, status, errorCode, this.retryAfterMs(retryAfter));
    }
    throw new MlflowRejected(errorCode, message, status, route);
  }

  private retryAfterMs(header: string | null): number | undefined {
    if (!header) return undefined;
    if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
    const at = Date.parse(header);
    return Number.isNaN(at) ? undefined : Math.max(0, at - this.now());
  }
}
