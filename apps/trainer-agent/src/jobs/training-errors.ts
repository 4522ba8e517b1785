import type { ErrorType } from '@trainyard/contracts';

/** A failure of an attempt with what the scheduler needs to decide on a retry. */
export class AttemptError extends Error {
  constructor(
    readonly errorType: ErrorType,
    readonly retryable: boolean,
    message: string,
    readonly stackSummary?: string,
  ) {
    super(message);
    this.name = 'AttemptError';
  }
}

/** The top frames of a stack: enough to find the fault, short enough for an event. */
export function summarizeStack(stack: string | undefined, frames = 5): string | undefined {
  if (!stack) return undefined;
  return stack
    .split('\n')
    .slice(0, frames + 1)
    .join('\n')
    .slice(0, 2000);
}

const NETWORK = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|socket hang up|network/i;
const OOM = /out of memory|ENOMEM|heap limit|allocation failed/i;

/** Environment faults are worth a retry; anything else in the trainer is deterministic and is not. */
export function classify(err: unknown, stage: 'train' | 'upload'): AttemptError {
  if (err instanceof AttemptError) return err;
  const e = err as Error;
  const message = e?.message ?? String(err);
  const stack = summarizeStack(e?.stack);
  if (OOM.test(message)) return new AttemptError('oom', true, message, stack);
  if (NETWORK.test(message)) return new AttemptError('network', true, message, stack);
  if (stage === 'upload') return new AttemptError('storage', true, message, stack);
  return new AttemptError('trainer_error', false, message, stack);
}
