/**
 * Thrown by a handler when a message can never succeed (it refers to nothing we know, it breaks an
 * invariant): the message goes straight to the dead-letter subject instead of being redelivered.
 */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  if (err && typeof err === 'object') return JSON.stringify(err);
  return String(err);
}
