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

/**
 * A JetStream publish that no stream answered ("no responders", which the client reports as
 * "jetstream is not enabled"): the stream is gone, the subject is outside it, or JetStream is off.
 * The message was not stored anywhere; the caller must retry or fail, never carry on.
 */
export class NoStreamError extends Error {
  constructor(
    readonly subject: string,
    readonly streamName: string,
    options?: { cause?: unknown },
  ) {
    super(`no JetStream stream stores ${subject} (expected stream ${streamName}: deleted, the subject outside it, or JetStream off): the message was not published`, options);
    this.name = 'NoStreamError';
  }
}
