import { createHash } from 'node:crypto';
import { MLFLOW_LIMITS, keyProblem } from './mlflow-rules';
import type { TrackedArtifact, TrackedRun } from './tracked-run';

/** The tag that ties an MLflow run to Trainyard's attempt: what a retried mirror searches for. */
export const TRAINYARD_RUN_ID_TAG = 'trainyard.run_id';
export const ARTIFACT_TAG_PREFIX = 'trainyard.artifact.';

/** What an artifact tag holds: where the bytes are and how to check them. */
export interface ArtifactTagValue {
  key: string;
  uri?: string;
  sha256: string;
  bytes: number;
  /** Path under the MLflow run's artifact root, once the bytes were uploaded there. */
  mlflow_path?: string;
}

/**
 * The tag key for an artifact: the storage key when MLflow accepts it as a tag name, else a
 * sanitised form with a hash of the real key appended, so two keys never share a tag (the real key
 * is in the value either way).
 */
export function artifactTagKey(storageKey: string): string {
  const plain = ARTIFACT_TAG_PREFIX + storageKey;
  if (!keyProblem('tag', plain)) return plain;
  const hash = createHash('sha256').update(storageKey).digest('hex').slice(0, 12);
  const cleaned = storageKey
    .replace(/[^/\p{L}\p{N}_.\- ]/gu, '_')
    .split('/')
    .filter((s) => s !== '' && s !== '.' && s !== '..')
    .join('/');
  const room = MLFLOW_LIMITS.keyLength - ARTIFACT_TAG_PREFIX.length - hash.length - 1;
  return `${ARTIFACT_TAG_PREFIX}${[...cleaned].slice(0, room).join('')}-${hash}`;
}

export function artifactTagValue(artifact: TrackedArtifact, mlflowPath?: string): string {
  const value: ArtifactTagValue = { key: artifact.key, ...(artifact.uri ? { uri: artifact.uri } : {}), sha256: artifact.sha256, bytes: artifact.bytes };
  if (mlflowPath) value.mlflow_path = mlflowPath;
  return JSON.stringify(value);
}

export function parseArtifactTagValue(value: string | undefined): ArtifactTagValue | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as ArtifactTagValue;
    return typeof parsed === 'object' && parsed && typeof parsed.sha256 === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The tags a Trainyard run carries in MLflow, wherever it goes (REST mirror or file-store export):
 * the caller's tags, the attempt id, one tag per artifact. `mlflow.runName` is left to the run name.
 */
export function trackedRunTags(run: TrackedRun): Record<string, string> {
  const tags: Record<string, string> = { ...run.tags, [TRAINYARD_RUN_ID_TAG]: run.runId };
  for (const a of run.artifacts) tags[artifactTagKey(a.key)] = artifactTagValue(a);
  return tags;
}
