/** A service's REST API as the CLI calls it: where, and the token to send. */
export interface ApiTarget {
  service: 'scheduler' | 'promoter';
  baseUrl: string;
  token?: string;
}

/**
 * One request; a refusal comes back as an error carrying the service's reason (its field issues, or
 * its message), an unreachable service as one that says so.
 */
export async function callApi(api: ApiTarget, method: string, path: string, body?: unknown): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(new URL(path, api.baseUrl), {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(api.token ? { authorization: `Bearer ${api.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new Error(`cannot reach the ${api.service} at ${api.baseUrl} (${(err as Error).message}); is the stack up?`);
  }
  if (!res.ok) {
    const b = (await res.json().catch(() => null)) as { message?: string | string[]; issues?: { field: string; reason: string }[] } | null;
    const detail = b?.issues?.length ? b.issues.map((i) => `${i.field}: ${i.reason}`).join('; ') : Array.isArray(b?.message) ? b.message.join('; ') : (b?.message ?? res.statusText);
    throw new Error(`${api.service} refused (${res.status}): ${detail}`);
  }
  return res;
}
