export { flattenParams, type MetricPoint, type TrackedArtifact, type TrackedRun, type TrackedRunStatus } from './tracked-run';
export { MlflowRejected, MlflowUnavailable } from './mlflow-errors';
export { MLFLOW_LIMITS, RUN_STATUS, keyProblem, mlflowStatus, type MlflowRunStatus } from './mlflow-rules';
export { ARTIFACT_TAG_PREFIX, TRAINYARD_RUN_ID_TAG, artifactTagKey, parseArtifactTagValue, trackedRunTags, type ArtifactTagValue } from './mlflow-tags';
export {
  MlflowClient,
  type CallOptions,
  type LogBatch,
  type MlflowClientOptions,
  type MlflowExperiment,
  type MlflowKeyValue,
  type MlflowMetric,
  type MlflowRun,
  type MlflowRunInfo,
  type RetryPolicy,
  type SearchRunsRequest,
} from './mlflow-client';
export { mirrorRun, type MirrorOptions, type MirrorResult } from './mlflow-mirror';
export { exportToFileStore, mlflowExperimentId, mlflowRunUuid, pythonFloatRepr, type FileStoreExperiment, type FileStoreExportOptions, type FileStoreExportResult } from './mlflow-file-store';
