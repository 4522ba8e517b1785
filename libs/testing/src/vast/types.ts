/** How an instance created from an offer behaves. */
export type VastTestScenario =
  | 'normal'
  /** create → 404 no_such_ask (the offer vanished between search and create) */
  | 'vanished'
  /** create → 410 no_such_ask */
  | 'gone'
  | 'stuck_loading'
  | 'exited'
  | 'unknown'
  | 'offline'
  /** stays `created` with status_msg containing ": OCI runtime create failed:" */
  | 'oci_failure'
  /** create answers success:false with an error but carries new_contract; the instance exists, stopped */
  | 'create_error_with_contract'
  /** the instance goes running, then after outbidAfterMs: actual_status stopped, cur_state=intended_status=next_state='stopped', processes killed */
  | 'outbid';

/** Missing fields get realistic defaults (VAST.md 1.3 offer fields). */
export interface VastTestOfferInput {
  id?: number;
  gpu_name?: string;
  num_gpus?: number;
  /** MB */
  gpu_ram?: number;
  /** Fixed $/h; when absent it is dph_base plus storage_cost for the searched (or created) disk size. */
  dph_total?: number;
  dph_base?: number;
  /** $/GB/month */
  storage_cost?: number;
  /** null: not offered as interruptible, so a `type: bid` search leaves it out. */
  min_bid?: number | null;
  reliability?: number;
  reliability2?: number;
  verified?: boolean;
  rentable?: boolean;
  rented?: boolean;
  direct_port_count?: number;
  cuda_max_good?: number;
  compute_cap?: number;
  disk_space?: number;
  cpu_cores?: number;
  cpu_cores_effective?: number;
  cpu_ram?: number;
  inet_down?: number;
  geolocation?: string;
  is_bid?: boolean;
  /** How an instance created from this offer behaves (default 'normal'). */
  scenario?: VastTestScenario;
  /** For 'outbid': how long after reaching running the instance is outbid (default loadingMs). */
  outbidAfterMs?: number;
}

export interface VastTestInstance {
  id: number;
  offerId: number;
  label: string | null;
  image: string;
  env: Record<string, string>;
  onstart: string | null;
  /** the bid, for interruptible instances */
  price: number | null;
  dphTotal: number;
  disk: number;
  createdAt: number;
  destroyedAt: number | null;
  actualStatus: string | null;
  /** the public SSH port (ssh_port), the same across stop and start */
  sshPort: number;
  /** public keys authorised (root's ~/.ssh/authorized_keys on the instance) */
  sshKeys: string[];
  /** the instance's home folder on this machine: /root inside the instance, HOME and the cwd of every SSH session */
  home: string;
  /** base64 (with padding) of sha256 over the host key's SSH wire blob, for asserting host-key pinning */
  hostKeySha256: string;
}

export interface VastTestRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorized: boolean;
  /** the status answered (429 for a rate limit); 0 while the request is still being handled */
  status: number;
}

/** What one instance has cost so far (VAST.md 1.9), in $. */
export interface VastTestBillLine {
  id: number;
  label: string | null;
  /** dph_base (or the bid, or after an accepted increase the new total less storage) per second while actual_status was running */
  compute: number;
  /** storage_cost × disk / 720 per hour, from create until destroy, whatever the state */
  storage: number;
  total: number;
  /** whether compute is accruing now */
  running: boolean;
  destroyedAt: number | null;
}

export interface VastTestBill {
  instances: VastTestBillLine[];
  total: number;
}

/** A process inside an instance's PID namespace. */
export interface VastTestProcess {
  /** pid on this machine */
  pid: number;
  /** pid inside the instance (what `echo $!` prints there) */
  nsPid: number;
  cmdline: string;
}

export interface VastTestServer {
  /** e.g. http://127.0.0.1:PORT; clients call `${url}/api/v0/...` and `${url}/api/v1/...` */
  url: string;
  /** the valid key (Bearer header; ?api_key= is accepted too) */
  apiKey: string;
  addOffers(offers: VastTestOfferInput[]): void;
  setOffers(offers: VastTestOfferInput[]): void;
  instances(): VastTestInstance[];
  /** not destroyed */
  alive(): VastTestInstance[];
  /**
   * The next n requests (optionally only those whose "METHOD path-pattern", e.g. "DELETE /api/v0/instances/{id}/",
   * contains `route`) answer 429 without Retry-After; the body alternates plain text / {"detail":...} / destroy's JSON shape.
   */
  rateLimitNext(n: number, route?: string): void;
  /** The next n requests (optionally only matching `route`) answer 5xx: `status`, or alternately 502 and 503. */
  failNext(n: number, status?: number, route?: string): void;
  /**
   * "Acted, then failed": the next n requests whose route key contains `route` (e.g. 'PUT /api/v0/asks/{id}/' for create,
   * 'DELETE /api/v0/instances/{id}/' for destroy) run for real (the instance is created, or destroyed) and then answer
   * `status` (502 by default, nginx's HTML page) instead of the handler's reply, as when a proxy times out on a request
   * Vast carried out. A request refused before its handler (401, 429) does not use one up.
   */
  failAfterActing(n: number, route: string, status?: number): void;
  /** How many 429s have been served, scripted (rateLimitNext) or for a minimum interval (minIntervalMs). */
  rateLimited(): number;
  /**
   * What every instance created so far has cost (VAST.md 1.9): storage from create until destroy, compute per second only
   * while actual_status is running (not loading, not stopped or outbid), at the rate of each stretch.
   */
  bill(): VastTestBill;
  /** The processes in an instance now; none once it is stopped or destroyed (every process in it is killed). */
  processes(id: number): VastTestProcess[];
  /** Forcefully outbid a running instance now. */
  outbid(id: number): void;
  /**
   * The host's network goes down: every SSH connection to the instance is reset (the broker's tunnel with it) and new
   * ones hang unanswered, as when packets are dropped, until restoreNetwork; the instance stays running, for the API and
   * for the processes in it.
   */
  cutNetwork(id: number): void;
  /** The network is back: connections that hung are reset, new ones reach sshd. */
  restoreNetwork(id: number): void;
  /** Client connections open on the instance's SSH port now, answered or hanging. */
  sshConnections(id: number): number;
  /** The host asks for a new price ($/h in all) on a running contract; returns the pending_price_increase_id. */
  proposePriceIncrease(id: number, newDphTotal: number): number;
  /** What became of a proposed increase. */
  priceIncrease(pendingId: number): 'pending' | 'accepted' | 'rejected' | null;
  requests(): VastTestRequest[];
  /** kills every process spawned on any instance, closes all ssh servers and the http server */
  close(): Promise<void>;
}

export interface VastTestServerOptions {
  apiKey?: string;
  /** default 150: the time null → loading → running takes */
  loadingMs?: number;
  offers?: VastTestOfferInput[];
  /** sandbox parent dir, default a tmp dir (removed on close) */
  root?: string;
  /**
   * Minimum interval (ms) between requests per endpoint and identity (the key used), keyed by route key such as
   * 'GET /api/v0/instances/{id}/'; a request sooner than that after the last one served answers 429 with no Retry-After
   * (VAST.md 1.2). Default: show-instance 50 ms, others none. 0 turns one off.
   */
  minIntervalMs?: Partial<Record<string, number>>;
}
