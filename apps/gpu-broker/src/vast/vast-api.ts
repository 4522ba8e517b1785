import { Inject, Injectable, Logger } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import type { VastInstance, VastOffer, VastOfferQuery } from './vast.types';

/** An answer from the API that is not a success; `code` is Vast's `error` field when it sent one. */
export class VastApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
    readonly body: unknown = null,
  ) {
    super(message);
    this.name = 'VastApiError';
  }
}

/** The key is wrong, revoked or lacks a permission: retrying cannot help. */
export class VastAuthError extends VastApiError {
  override name = 'VastAuthError';
}

export interface CreateInstanceBody {
  image: string;
  disk: number;
  label: string;
  env: Record<string, string>;
  onstart: string;
  runtype: string;
  /** A bid in $/h, for interruptible instances only. */
  price?: number;
}

/** `instanceApiKey` can only show, stop or destroy that one instance: its agent gets it, to destroy itself if cut off. */
export type CreateResult = { ok: true; instanceId: number; instanceApiKey: string | null } | { ok: false; instanceId: number | null; error: VastApiError };

/** When a request's tries were sent and its last answer came, in ms since the epoch. */
interface RequestTiming {
  firstSentAt: number;
  lastSentAt: number;
  answeredAt: number;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);
/** A 429 is refused before anything happens; a 5xx may come after the call acted. */
const RETRYABLE_BEFORE_ACTING = new Set([429]);

/** An answer that does not say whether a call that changes something acted: a 5xx, or none at all. */
export const mayHaveActed = (err: VastApiError) => err.status === 0 || err.status >= 500;

/**
 * Vast.ai's REST API (console.vast.ai/api/v0 and v1), as documented: Bearer auth, JSON bodies.
 * 429 (sent without Retry-After) and 5xx are retried with a growing delay; the key never leaves
 * the Authorization header, so it cannot end up in a logged URL or error.
 */
@Injectable()
export class VastApi {
  private readonly log = new Logger('VastApi');

  constructor(@Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig) {}

  get enabled(): boolean {
    return Boolean(this.cfg.VAST_API_KEY);
  }

  async searchOffers(query: VastOfferQuery): Promise<VastOffer[]> {
    const body = await this.request<{ offers?: VastOffer[] }>('POST', '/api/v0/bundles/', query);
    return body.offers ?? [];
  }

  /**
   * Creating can fail after the instance exists (an insufficient bid): the id is then still returned,
   * for destroying. Only a 429 is retried here: a 5xx or a lost answer may come after the create
   * acted, and a second create would rent a second instance (or be told the offer is gone); the
   * caller looks the instance up by its label instead (`mayHaveActed`).
   */
  async createInstance(offerId: number, create: CreateInstanceBody): Promise<CreateResult> {
    try {
      const body = await this.request<{ success?: boolean; new_contract?: number; instance_api_key?: string; error?: string; msg?: string }>(
        'PUT',
        `/api/v0/asks/${offerId}/`,
        { client_id: 'me', cancel_unavail: true, ...create },
        undefined,
        { retryAfterActing: false },
      );
      if (body.success === false || typeof body.new_contract !== 'number') {
        const error = new VastApiError(200, body.error ?? null, body.msg ?? 'create did not succeed', body);
        return { ok: false, instanceId: typeof body.new_contract === 'number' ? body.new_contract : null, error };
      }
      return { ok: true, instanceId: body.new_contract, instanceApiKey: typeof body.instance_api_key === 'string' ? body.instance_api_key : null };
    } catch (err) {
      if (err instanceof VastAuthError || !(err instanceof VastApiError)) throw err;
      const contract = (err.body as { new_contract?: unknown } | null)?.new_contract;
      return { ok: false, instanceId: typeof contract === 'number' ? contract : null, error: err };
    }
  }

  /** The live instance carrying `label`, or null: how a create whose answer was lost is found. */
  async findByLabel(label: string): Promise<VastInstance | null> {
    const page: { instances?: VastInstance[] } = await this.request('GET', '/api/v1/instances/', undefined, {
      limit: JSON.stringify(25),
      select_cols: JSON.stringify(['id', 'label', 'actual_status', 'intended_status', 'cur_state', 'start_date', 'dph_total']),
      select_filters: JSON.stringify({ label: { eq: label } }),
    });
    return page.instances?.find((i) => i.label === label) ?? null;
  }

  /** null when the instance no longer exists (the API answers `{"instances": null}` or 404). */
  async showInstance(id: number): Promise<VastInstance | null> {
    try {
      const body = await this.request<{ instances?: VastInstance | null }>('GET', `/api/v0/instances/${id}/`, undefined, { owner: 'me' });
      return body.instances ?? null;
    } catch (err) {
      if (err instanceof VastApiError && !(err instanceof VastAuthError) && err.status === 404) return null;
      throw err;
    }
  }

  /** Every instance of the account through the v1 list (25 a page); the v0 list answers 410. */
  async listInstances(): Promise<VastInstance[]> {
    const all: VastInstance[] = [];
    let after: string | null = null;
    do {
      const query: Record<string, string> = {
        limit: JSON.stringify(25),
        select_cols: JSON.stringify(['id', 'label', 'actual_status', 'intended_status', 'cur_state', 'start_date', 'dph_total']),
        order_by: JSON.stringify([{ col: 'id', dir: 'asc' }]),
      };
      if (after) query.after_token = JSON.stringify(after);
      const page: { instances?: VastInstance[]; next_token?: string | null } = await this.request('GET', '/api/v1/instances/', undefined, query);
      all.push(...(page.instances ?? []));
      after = page.next_token ?? null;
    } while (after);
    return all;
  }

  /**
   * Resolves once the API confirms the instance is gone, whether by this call or before it, with
   * when billing stopped as best this side can tell: midway through the request that destroyed it,
   * or, when it was already gone (a 5xx after acting, then a 404), when the first request was sent.
   */
  async destroyInstance(id: number): Promise<{ outcome: 'destroyed' | 'already_gone'; at: Date }> {
    const timing: RequestTiming = { firstSentAt: 0, lastSentAt: 0, answeredAt: 0 };
    try {
      await this.request('DELETE', `/api/v0/instances/${id}/`, undefined, undefined, { timing });
      return { outcome: 'destroyed', at: new Date((timing.lastSentAt + timing.answeredAt) / 2) };
    } catch (err) {
      if (err instanceof VastApiError && !(err instanceof VastAuthError) && (err.status === 404 || err.code === 'not_found' || err.code === 'no_such_instance'))
        return { outcome: 'already_gone', at: new Date(timing.firstSentAt) };
      throw err;
    }
  }

  /** Keys attached to the instance itself survive Vast refreshing the authorised set, unlike keys appended by onstart. */
  async attachSshKey(id: number, publicKey: string): Promise<void> {
    await this.request('POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: publicKey });
  }

  /** Price increases hosts have proposed on our running contracts. */
  async pendingPriceIncreases(): Promise<Array<{ id: number; instanceId: number; newPerHour: number; oldPerHour: number }>> {
    const body = await this.request<{ pending_price_increases?: Array<{ pending_price_increase_id: number; contract_id: number; new_gpu_costpersec: number; old_gpu_costpersec: number }> }>(
      'GET',
      '/api/v0/instances/pending-price-increases/',
    );
    return (body.pending_price_increases ?? []).map((p) => ({
      id: p.pending_price_increase_id,
      instanceId: p.contract_id,
      newPerHour: p.new_gpu_costpersec * 3600,
      oldPerHour: p.old_gpu_costpersec * 3600,
    }));
  }

  async answerPriceIncrease(id: number, accept: boolean): Promise<void> {
    await this.request('PUT', `/api/v0/instances/${accept ? 'accept' : 'reject'}-price-increase/`, { pending_price_increase_id: id });
  }

  async currentUser(): Promise<{ id: number; credit?: number }> {
    return this.request('GET', '/api/v0/users/current/');
  }

  private async request<T>(method: string, path: string, body?: unknown, query?: Record<string, string>, opts: { retryAfterActing?: boolean; timing?: RequestTiming } = {}): Promise<T> {
    const retryable = opts.retryAfterActing === false ? RETRYABLE_BEFORE_ACTING : RETRYABLE;
    if (!this.cfg.VAST_API_KEY) throw new VastAuthError(0, 'no_key', 'VAST_API_KEY is not set');
    const url = new URL(path, this.cfg.VAST_API_URL.replace(/\/+$/, '') + '/');
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    const what = `${method} ${path}`;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      if (opts.timing) {
        opts.timing.lastSentAt = Date.now();
        opts.timing.firstSentAt ||= opts.timing.lastSentAt;
      }
      try {
        res = await fetch(url, {
          method,
          headers: {
            Authorization: `Bearer ${this.cfg.VAST_API_KEY}`,
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        if (attempt >= this.cfg.VAST_API_RETRIES || opts.retryAfterActing === false) throw new VastApiError(0, 'network', `${what}: ${(err as Error).message}`);
        await this.backoff(attempt, `${what}: ${(err as Error).message}`);
        continue;
      }
      const text = await res.text();
      if (opts.timing) opts.timing.answeredAt = Date.now();
      const parsed = parseJson(text);
      if (res.ok) return (parsed ?? {}) as T;
      const code = typeof parsed?.error === 'string' ? parsed.error : null;
      const msg = String(parsed?.msg ?? parsed?.message ?? parsed?.detail ?? text.slice(0, 300));
      if (res.status === 401 || res.status === 403 || code === 'auth_error' || /invalid user key|session expired/i.test(msg)) {
        throw new VastAuthError(res.status, code, `${what}: Vast.ai refused the API key (${res.status} ${msg}); check VAST_API_KEY and its permissions`, parsed);
      }
      if (retryable.has(res.status) && attempt < this.cfg.VAST_API_RETRIES) {
        await this.backoff(attempt, `${what}: ${res.status} ${msg}`);
        continue;
      }
      throw new VastApiError(res.status, code, `${what}: ${res.status} ${code ?? ''} ${msg}`.replace(/\s+/g, ' ').trim(), parsed);
    }
  }

  private async backoff(attempt: number, why: string): Promise<void> {
    const base = this.cfg.VAST_API_RETRY_BASE_MS * 1.5 ** attempt;
    const delay = base / 2 + Math.random() * base;
    this.log.debug(`retrying in ${Math.round(delay)} ms after ${why}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}
