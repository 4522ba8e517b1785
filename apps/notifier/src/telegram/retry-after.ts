export interface RetryAfterOptions {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** A longer wait is not made: the error is thrown at once. */
  maxWaitSeconds: number;
  sleep?: (ms: number) => Promise<void>;
  onWait?: (seconds: number, retry: number) => void;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `call`, and when it fails with Telegram's flood control (429 with `parameters.retry_after`)
 * waits that many seconds and calls again, a bounded number of times.
 */
export async function withRetryAfter<T>(call: () => Promise<T>, retryAfterOf: (err: unknown) => number | undefined, o: RetryAfterOptions): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await call();
    } catch (err) {
      const seconds = retryAfterOf(err);
      if (seconds === undefined || retry > o.maxRetries || seconds > o.maxWaitSeconds) throw err;
      o.onWait?.(seconds, retry);
      await (o.sleep ?? sleepMs)(seconds * 1000);
    }
  }
}
