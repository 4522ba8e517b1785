import { RETRYABLE_ERRORS, type ErrorType } from '@trainyard/contracts';

/** Whether a failed attempt gets another: only environment faults, and only while attempts remain. */
export function shouldRetry(errorType: ErrorType, retryable: boolean, attempt: number, maxAttempts: number): boolean {
  return retryable && RETRYABLE_ERRORS.has(errorType) && attempt < maxAttempts;
}

/** Exponential backoff with full jitter in [0.5, 1.5) of the step, so retries of many jobs spread out. */
export function retryDelaySeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  return baseSeconds * 2 ** (attempt - 1) * (0.5 + random());
}
