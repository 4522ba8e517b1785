/** Room kept beside a message's body for the envelope and the headers a publish adds (Nats-Msg-Id, trace context, baggage). */
export const MESSAGE_HEADER_ROOM = 16 * 1024;

/** The JSON size of a value, in bytes. */
export const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * How many of `items`, from the first, fit in `roomBytes` as the elements of a JSON array (commas
 * included, the brackets not), and the bytes they take.
 */
export function leadingThatFit(items: readonly unknown[], roomBytes: number): { count: number; bytes: number } {
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    const next = used + jsonBytes(items[i]) + (i ? 1 : 0);
    if (next > roomBytes) return { count: i, bytes: used };
    used = next;
  }
  return { count: items.length, bytes: used };
}
