/**
 * One training attempt as Trainyard records it, in the terms MLflow understands: flat string params,
 * string tags, metric series and the artifacts it produced. Services keep these in PostgreSQL; this
 * library only mirrors or exports them.
 */
export interface TrackedRun {
  /** Trainyard's id of the attempt, e.g. `<jobId>-a<attempt>`; the key that makes mirroring idempotent. */
  runId: string;
  experimentName: string;
  runName: string;
  status: TrackedRunStatus;
  /** ms since the epoch. */
  startTime: number;
  /** ms since the epoch; absent while running (a `null` that came through JSON counts as absent). */
  endTime?: number;
  /** Flattened (see flattenParams); immutable once mirrored, as MLflow params are. */
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Append-only, in the order they were recorded: mirror's cursor counts positions in this list. */
  metrics: MetricPoint[];
  artifacts: TrackedArtifact[];
}

/** `killed` covers pruned and cancelled attempts (MLflow's KILLED). */
export type TrackedRunStatus = 'running' | 'finished' | 'failed' | 'killed';

export interface MetricPoint {
  key: string;
  value: number;
  /** An integer: epoch, batch or evaluation round. */
  step: number;
  /** ms since the epoch. */
  timestamp: number;
}

export interface TrackedArtifact {
  /** The key in Trainyard's artifact store. */
  key: string;
  /** Where the bytes live, e.g. `s3://bucket/key`. */
  uri?: string;
  sha256: string;
  bytes: number;
}

/**
 * A nested config as MLflow params: nested objects become dotted keys, arrays are JSON-encoded (so a
 * list of layers stays one comparable value), other values are stringified; keys come out sorted so
 * the same config always gives the same params. Throws when two paths flatten to one key
 * (`{a: {b: 1}, 'a.b': 2}`) rather than silently dropping one.
 */
export function flattenParams(config: Record<string, unknown>): Record<string, string> {
  const flat = new Map<string, string>();
  const put = (key: string, value: string) => {
    if (flat.has(key)) throw new Error(`params: "${key}" is produced by two different paths of the config`);
    flat.set(key, value);
  };
  const walk = (value: unknown, key: string): void => {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return;
    if (value === null) return put(key, 'null');
    if (Array.isArray(value)) return put(key, JSON.stringify(value));
    if (value instanceof Date) return put(key, value.toISOString());
    if (typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0 && key) return put(key, '{}');
      for (const [k, v] of entries) walk(v, key ? `${key}.${k}` : k);
      return;
    }
    put(key, String(value));
  };
  walk(config, '');
  return Object.fromEntries([...flat.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
