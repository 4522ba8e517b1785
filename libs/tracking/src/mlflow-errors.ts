/**
 * MLflow said no and will say no again: a 4xx other than 429 (MLflow's error_code and message), or a
 * run this library refuses before sending because MLflow would. Retrying cannot help; fix the data,
 * the credentials or the MLflow side.
 */
export class MlflowRejected extends Error {
  override readonly name = 'MlflowRejected';
  constructor(
    /** MLflow's error_code (INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ...), or one derived from the HTTP status. */
    readonly errorCode: string,
    message: string,
    /** The HTTP status; undefined when refused here before sending. */
    readonly status?: number,
    /** The route under /api/2.0/, e.g. `mlflow/runs/log-batch`. */
    readonly route?: string,
  ) {
    super(`${errorCode}: ${message}`);
  }
}

/**
 * MLflow could not be reached or kept failing (network errors, timeouts, 429, 5xx) through the retry
 * budget. Nothing is known to be lost: a later mirror of the same run picks up where this one stopped.
 */
export class MlflowUnavailable extends Error {
  override readonly name = 'MlflowUnavailable';
  constructor(
    message: string,
    readonly route: string,
    readonly attempts: number,
    /** The last HTTP status; undefined for network errors and timeouts. */
    readonly status?: number,
    readonly errorCode?: string,
    /** The server's Retry-After, when it gave one longer than the client is willing to wait. */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
