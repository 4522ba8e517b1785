/** Nak delay for a delivery: exponential in the delivery count, capped (JetStream does not apply `backoff` to naks). */
export function retryDelayMs(deliveryCount: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(30, Math.max(0, deliveryCount - 1));
  return Math.min(maxMs, baseMs * 2 ** exp);
}
