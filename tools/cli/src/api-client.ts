import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A service's REST API as the CLI calls it: where, and the token to send. */
export interface ApiTarget {
  service: 'scheduler' | 'promoter';
  baseUrl: string;
  token?: string;
}

/** A successful answer, read whole. */
export interface ApiAnswer {
  status: number;
  body: Buffer;
  json(): unknown;
}

// As long as fetch's own limits (undici's headers and body timeouts): a service that accepts and never answers does not hold the CLI forever.
const SILENCE_MS = 300_000;

/**
 * One request; a refusal comes back as an error carrying the service's reason (its field issues, or
 * its message), an unreachable service as one that says so. Made with node:http rather than fetch:
 * loading fetch (undici) took 0.3 s of a CLI call's 0.45 s on a loaded 2-core machine.
 */
export async function callApi(api: ApiTarget, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const url = new URL(path, api.baseUrl);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {
    ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
    ...(api.token ? { authorization: `Bearer ${api.token}` } : {}),
  };
  const { status, data } = await send(url, method, headers, payload).catch((err: Error) => {
    throw new Error(`cannot reach the ${api.service} at ${api.baseUrl} (${err.message}); is the stack up?`);
  });
  const json = () => JSON.parse(data.toString('utf8')) as unknown;
  if (status < 200 || status > 299) throw new Error(`${api.service} refused (${status}): ${refusal(data) ?? `status ${status}`}`);
  return { status, body: data, json };
}

/** The service's reason: its field issues, its message(s), or the answer's text. */
function refusal(data: Buffer): string | undefined {
  const text = data.toString('utf8');
  let b: { message?: string | string[]; issues?: { field: string; reason: string }[] } | null;
  try {
    b = JSON.parse(text) as typeof b;
  } catch {
    return text.slice(0, 200) || undefined;
  }
  if (b?.issues?.length) return b.issues.map((i) => `${i.field}: ${i.reason}`).join('; ');
  if (Array.isArray(b?.message)) return b.message.join('; ');
  return b?.message ?? (text.slice(0, 200) || undefined);
}

function send(url: URL, method: string, headers: Record<string, string>, payload: string | undefined): Promise<{ status: number; data: Buffer }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error(`${url.protocol} is not http: or https:`));
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, timeout: SILENCE_MS }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${SILENCE_MS / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
