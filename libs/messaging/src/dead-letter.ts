import type { DeadLetter } from '@trainyard/contracts';
import { jsonBytes as bytes, MESSAGE_HEADER_ROOM } from './fit-message';

/** Room kept beside the letter's body for the headers the publish adds. */
export const DEAD_LETTER_HEADER_ROOM = MESSAGE_HEADER_ROOM;
/** The server's max_payload where the connection has not said (nats-server's default, 1 MiB). */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** A reason longer than this is cut (a schema error listing every issue of a huge message, say). */
export const MAX_REASON_CHARS = 8 * 1024;

/** A reason as letters and logs carry it: bounded, whatever the input it describes. */
export const capReason = (reason: string) => (reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}…` : reason);

/**
 * The letter as it will be stored: whole when its JSON fits `limitBytes`; otherwise marked `truncated`,
 * with as much of `data` as fits (its `dataBytes` and `dataSha256` still describe the whole original),
 * and without the original headers if even an empty `data` does not fit.
 */
export function fitDeadLetter(letter: DeadLetter, limitBytes: number): DeadLetter {
  const whole = { ...letter, reason: capReason(letter.reason) };
  if (bytes(whole) <= limitBytes) return whole;
  let cut: DeadLetter = { ...whole, data: '', truncated: true };
  if (bytes(cut) > limitBytes) cut = { ...cut, headers: {} };
  const room = limitBytes - bytes(cut);
  if (room < 0) throw new Error(`a dead letter cannot fit ${limitBytes} bytes even without its payload`);
  // The longest prefix of data whose JSON-escaped form fits the room (escapes make it up to 6 bytes a character).
  const data = letter.data;
  let lo = 0;
  let hi = Math.min(data.length, room);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytes(data.slice(0, mid)) - 2 <= room) lo = mid;
    else hi = mid - 1;
  }
  // Never end on the first half of a surrogate pair.
  if (lo > 0 && /[\uD800-\uDBFF]/.test(data.charAt(lo - 1))) lo--;
  return { ...cut, data: data.slice(0, lo) };
}
