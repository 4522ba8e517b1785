import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { makeOffer, offerDphTotal, searchOffers, storagePerHour, type Offer } from './offers';
import { instancePath, OpenSshHost } from './openssh-host';
import { comparator, isOp, matchesColumn, type Row } from './query';
import type { VastTestBill, VastTestInstance, VastTestOfferInput, VastTestRequest, VastTestServer, VastTestServerOptions } from './types';

export type { VastTestBill, VastTestBillLine, VastTestInstance, VastTestOfferInput, VastTestProcess, VastTestRequest, VastTestScenario, VastTestServer, VastTestServerOptions } from './types';

interface SshKey {
  id: number;
  public_key: string;
  created_at: number;
}

interface Instance {
  id: number;
  offer: Offer;
  label: string | null;
  image: string;
  env: Record<string, string>;
  onstart: string | null;
  runtype: string;
  args: string[];
  price: number | null;
  disk: number;
  apiKey: string;
  createdAt: number;
  destroyedAt: number | null;
  actualStatus: string | null;
  intendedStatus: string;
  curState: string;
  nextState: string;
  statusMsg: string | null;
  keys: SshKey[];
  home: string;
  ssh: OpenSshHost;
  timers: NodeJS.Timeout[];
  /** Bumped on every boot, stop and destroy: a boot that finds it changed (sshd came up too late) changes nothing. */
  generation: number;
  /** $/h after an accepted price increase; null while the offer's price holds. */
  dphAfterIncrease: number | null;
  /** $ of compute billed up to meterAt (VAST.md 1.9: per second, only while actual_status is running). */
  computeCost: number;
  /** ms timestamp up to which computeCost is settled. */
  meterAt: number;
}

interface PriceIncrease {
  id: number;
  contractId: number;
  newDphTotal: number;
  oldDphTotal: number;
  state: 'pending' | 'accepted' | 'rejected';
}

type Reply = { status: number; body: unknown; text?: boolean };
type Params = { id: number; keyId: number };
type Handler = (params: Params, body: Record<string, unknown>, query: Record<string, string>) => Reply | Promise<Reply>;

const ok = (body: unknown): Reply => ({ status: 200, body });
const fail = (status: number, error: string, msg: string, extra: Record<string, unknown> = {}): Reply => ({ status, body: { success: false, error, msg, ...extra } });
const notFound = () => fail(404, 'not_found', 'Instance not found');

const OCI_FAILURE =
  'Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8: unknown';

/** Columns the v1 list can filter on: stored ones. Computed ones (dph_total, num_gpus, ...) answer 400 as on Vast. */
const FILTERABLE = new Set([
  'id',
  'label',
  'actual_status',
  'intended_status',
  'cur_state',
  'next_state',
  'gpu_name',
  'verification',
  'machine_id',
  'host_id',
  'bundle_id',
  'image_uuid',
  'image_runtype',
  'start_date',
  'is_bid',
  'status_msg',
  'geolocation',
]);

/** Vast enforces a minimum interval between requests per endpoint and identity (VAST.md 1.2); these are the defaults. */
const DEFAULT_MIN_INTERVAL_MS: Record<string, number> = { 'GET /api/v0/instances/{id}/': 50 };

const RATE_LIMIT_BODIES: [Reply, Reply, Reply] = [
  { status: 429, body: 'API requests too frequent endpoint threshold=2.0', text: true },
  { status: 429, body: { detail: 'API requests too frequent endpoint threshold=4.5' } },
  { status: 429, body: { success: false, error: 'rate_limit_exceeded', msg: 'API requests too frequent endpoint threshold=3.0' } },
];

/** The documented 429 body of an endpoint: destroy's JSON, create's {"detail"}, plain text elsewhere (VAST.md 1.2). */
const rateLimitBody = (routeKey: string): Reply => RATE_LIMIT_BODIES[routeKey === 'DELETE /api/v0/instances/{id}/' ? 2 : routeKey === 'PUT /api/v0/asks/{id}/' ? 1 : 0];

/** A proxy's 5xx: nginx's HTML page for 502, plain text otherwise. */
const gatewayReply = (status: number): Reply => ({
  status,
  body: status === 502 ? '<html><body><h1>502 Bad Gateway</h1></body></html>' : status === 503 ? 'Service Unavailable' : status === 504 ? 'Gateway Timeout' : 'Internal Server Error',
  text: true,
});

/** Docker-flag env string (`-e K=V -p 8000:8000`) into the object form the API stores, as the CLI's parse_env does. */
function parseEnvString(s: string): Record<string, string> {
  const words = (s.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
  const env: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const [flag, value] = [words[i], words[i + 1]];
    if (flag === undefined || value === undefined) break;
    if (flag === '-e' && value.includes('=')) env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
    else if (['-p', '-h', '-v', '-n'].includes(flag)) env[`${flag} ${value}`] = '1';
    else continue;
    i++;
  }
  return env;
}

function parseJsonParam(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * A stand-in for Vast.ai's REST API on loopback (routes, shapes, statuses, error bodies, rate limits and billing of
 * ../shared/design/VAST.md), whose instances are real SSH endpoints: each one the system's OpenSSH sshd, with bash as
 * root's login shell, in a mount and PID namespace of its own where the instance's home folder is /root (see
 * OpenSshHost). A client's bootstrap, its backgrounded agent and its tunnels run as they would on Vast, bash's quirks
 * included; stopping or destroying an instance kills every process in it. Needs root and /usr/sbin/sshd.
 */
export async function startVastTestServer(opts: VastTestServerOptions = {}): Promise<VastTestServer> {
  const apiKey = opts.apiKey ?? randomBytes(32).toString('hex');
  const loadingMs = opts.loadingMs ?? 150;
  const root = opts.root ?? (await mkdtemp(join(tmpdir(), 'ty-vast-')));
  let offers: Offer[] = [];
  const instances = new Map<number, Instance>();
  const accountKeys: SshKey[] = [];
  const log: VastTestRequest[] = [];
  const scripted: Array<{ route?: string; reply: () => Reply }> = [];
  let nextOfferId = 30_000_001;
  let nextInstanceId = 24_000_001;
  let nextKeyId = 7_001;
  let rateLimited = 0;
  let served429 = 0;
  let failed = 0;
  const afterActing: Array<{ route: string; status: number }> = [];
  const minInterval: Record<string, number> = { ...DEFAULT_MIN_INTERVAL_MS };
  for (const [route, ms] of Object.entries(opts.minIntervalMs ?? {})) if (ms !== undefined) minInterval[route] = ms;
  /** `${route key}\n${identity}` → when a request there was last served. */
  const lastServed = new Map<string, number>();

  const toOffers = (inputs: VastTestOfferInput[]) => inputs.map((o) => makeOffer(o, o.id ?? nextOfferId++));

  const timer = (inst: Instance, ms: number, fn: () => void) => {
    const t = setTimeout(fn, ms);
    t.unref();
    inst.timers.push(t);
  };

  /** $/h of storage: storage_cost ($/GB/month) × disk over a 720-hour month, billed from create until destroy. */
  const storageRate = (inst: Instance) => storagePerHour(inst.offer, inst.disk);
  /** $/h of compute while running: the bid, else dph_base; after an accepted increase, the new total less storage. */
  const computeRate = (inst: Instance) => (inst.dphAfterIncrease !== null ? Math.max(0, inst.dphAfterIncrease - storageRate(inst)) : (inst.price ?? inst.offer.dphBase));
  const computeSince = (inst: Instance, now: number) => (inst.actualStatus === 'running' && inst.destroyedAt === null ? ((now - inst.meterAt) / 3_600_000) * computeRate(inst) : 0);
  /** Bills compute up to now; called before anything that changes whether or at what price compute is billed. */
  const settle = (inst: Instance) => {
    const now = Date.now();
    inst.computeCost += computeSince(inst, now);
    inst.meterAt = now;
  };

  const setState = (inst: Instance, actual: string | null, state: 'running' | 'stopped', msg: string | null) => {
    settle(inst);
    inst.actualStatus = actual;
    inst.intendedStatus = inst.curState = inst.nextState = state;
    inst.statusMsg = msg;
  };

  /**
   * The container stops: every process in it killed, connections dropped (VAST.md 1.9 "stopped (killing running
   * processes)"). Returns when they are all gone; the state is stopped at once.
   */
  const stop = (inst: Instance, msg: string | null): Promise<void> => {
    inst.generation++;
    inst.timers.forEach(clearTimeout);
    inst.timers = [];
    setState(inst, 'stopped', 'stopped', msg);
    return inst.ssh.killProcesses();
  };

  /**
   * null → loading → running over loadingMs, or where the offer's scenario leads instead. sshd starts with the loading
   * and the instance reports running only once sshd listens.
   */
  const boot = (inst: Instance) => {
    const generation = ++inst.generation;
    setState(inst, null, 'running', null);
    timer(inst, loadingMs / 3, () => {
      if (inst.actualStatus === null) setState(inst, 'loading', 'running', `Pulling image ${inst.image}`);
    });
    const scenario = inst.offer.scenario;
    if (scenario === 'stuck_loading') return;
    const reachesRunning = !['exited', 'unknown', 'offline', 'oci_failure'].includes(scenario);
    const sshd = reachesRunning && sshEnabled(inst) ? inst.ssh.startSshd() : Promise.resolve();
    sshd.catch(() => undefined);
    timer(inst, loadingMs, () => {
      if (scenario === 'exited') return setState(inst, 'exited', 'running', 'Error: container exited with code 1');
      if (scenario === 'unknown') return setState(inst, 'unknown', 'running', 'no recent heartbeat from host');
      if (scenario === 'offline') return setState(inst, 'offline', 'running', 'host disconnected');
      if (scenario === 'oci_failure') return setState(inst, 'created', 'running', OCI_FAILURE);
      sshd.then(
        () => {
          if (inst.generation !== generation) return;
          setState(inst, 'running', 'running', `success, running ${inst.image}/ssh`);
          if (scenario === 'outbid') timer(inst, inst.offer.outbidAfterMs ?? loadingMs, () => void stop(inst, 'outbid: a higher bid took the machine'));
        },
        (err: Error) => {
          if (inst.generation === generation) setState(inst, 'exited', 'running', `Error: sshd did not start: ${err.message}`);
        },
      );
    });
  };

  const priceIncreases: PriceIncrease[] = [];
  let nextPriceIncreaseId = 7001;
  const answerIncrease = (body: Record<string, unknown>, state: 'accepted' | 'rejected'): Reply => {
    const p = priceIncreases.find((x) => x.id === body.pending_price_increase_id && x.state === 'pending');
    if (!p) return fail(404, 'no_pending_price_increase', 'No pending price increase with that id');
    p.state = state;
    const inst = live(p.contractId);
    if (inst && state === 'accepted') {
      settle(inst);
      inst.dphAfterIncrease = p.newDphTotal;
    }
    return ok({ success: true });
  };

  const live = (id: number) => {
    const inst = instances.get(id);
    return inst && inst.destroyedAt === null ? inst : undefined;
  };

  const sshEnabled = (inst: Instance) => inst.runtype.includes('ssh') || inst.runtype.includes('jupyter');

  const dphTotal = (inst: Instance) =>
    inst.dphAfterIncrease !== null ? inst.dphAfterIncrease : inst.price !== null ? Math.round((inst.price + storageRate(inst)) * 1e6) / 1e6 : offerDphTotal(inst.offer, inst.disk);

  /** The instance object of GET /instances/{id}/ and the v1 list (VAST.md 1.5). */
  const instanceRow = (inst: Instance): Row => {
    const o = inst.offer;
    const running = inst.actualStatus === 'running';
    const startDate = inst.createdAt / 1000;
    return {
      id: inst.id,
      machine_id: o.machineId,
      host_id: o.hostId,
      bundle_id: o.id,
      label: inst.label,
      actual_status: inst.actualStatus,
      intended_status: inst.intendedStatus,
      cur_state: inst.curState,
      next_state: inst.nextState,
      status_msg: inst.statusMsg,
      image_uuid: inst.image,
      image_args: inst.args,
      image_runtype: inst.runtype,
      extra_env: Object.entries(inst.env),
      onstart: inst.onstart,
      jupyter_token: inst.apiKey.slice(0, 32),
      ssh_host: '127.0.0.1',
      ssh_port: inst.ssh.port,
      ssh_idx: '1',
      public_ipaddr: '127.0.0.1',
      local_ipaddrs: '127.0.0.1 ',
      machine_dir_ssh_port: inst.ssh.port,
      direct_port_start: inst.ssh.port,
      direct_port_end: inst.ssh.port,
      direct_port_count: o.directPortCount,
      // Only running containers publish ports; an args runtype provisions no SSH.
      ports: running && sshEnabled(inst) ? { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: String(inst.ssh.port) }] } : undefined,
      start_date: startDate,
      end_date: startDate + 30 * 86_400,
      duration: 30 * 86_400,
      uptime_mins: running ? Math.floor((Date.now() - inst.createdAt) / 60_000) : null,
      gpu_name: o.gpuName,
      num_gpus: o.numGpus,
      gpu_totalram: o.gpuRam,
      gpu_ram: o.gpuRam,
      gpu_util: running ? 0 : null,
      gpu_temp: running ? 35 : null,
      cpu_cores: o.cpuCores,
      cpu_cores_effective: o.cpuCoresEffective,
      cpu_ram: o.cpuRam,
      cpu_util: running ? 0 : null,
      mem_usage: running ? 0 : null,
      mem_limit: o.cpuRam / 1000,
      disk_space: inst.disk,
      disk_usage: running ? 0.1 : null,
      disk_util: running ? 0.1 / inst.disk : null,
      inet_up: Math.round(o.inetDown * 0.6),
      inet_down: o.inetDown,
      dph_base: inst.price ?? o.dphBase,
      dph_total: dphTotal(inst),
      is_bid: inst.price !== null,
      min_bid: o.minBid,
      storage_cost: o.storageCost,
      credit_balance: null,
      reliability2: o.reliability2,
      verification: o.verified ? 'verified' : 'unverified',
      geolocation: o.geolocation,
      cuda_max_good: o.cudaMaxGood,
      compute_cap: o.computeCap,
      template_id: null,
      template_hash_id: null,
      volume_info: null,
      time_remaining: '',
      time_remaining_isbid: '',
    };
  };

  const publicInstance = (inst: Instance): VastTestInstance => ({
    id: inst.id,
    offerId: inst.offer.id,
    label: inst.label,
    image: inst.image,
    env: { ...inst.env },
    onstart: inst.onstart,
    price: inst.price,
    dphTotal: dphTotal(inst),
    disk: inst.disk,
    createdAt: inst.createdAt,
    destroyedAt: inst.destroyedAt,
    actualStatus: inst.actualStatus,
    sshPort: inst.ssh.port,
    sshKeys: inst.keys.map((k) => k.public_key),
    home: inst.home,
    hostKeySha256: inst.ssh.hostKeySha256,
  });

  const validKey = (key: unknown): key is string => typeof key === 'string' && !(utils.parseKey(key.trim()) instanceof Error);

  const create: Handler = async ({ id }, body) => {
    const offer = offers.find((o) => o.id === id);
    if (!offer || offer.rented || offer.scenario === 'vanished') {
      if (offer) offer.rented = true;
      return fail(404, 'invalid_args', `error 404/3603: no_such_ask Instance type by id ${id} is not available.`, { ask_id: id });
    }
    if (offer.scenario === 'gone') {
      offer.rented = true;
      return fail(410, 'no_such_ask', `error 410/3907: no_such_ask Instance type ${id} is no longer available.`);
    }
    const image = typeof body.image === 'string' && body.image ? body.image : typeof body.template_hash_id === 'string' ? `template:${body.template_hash_id}` : null;
    if (!image) return fail(400, 'invalid_args', 'image is required (or template_hash_id)');
    if (image.length > 1024) return fail(400, 'invalid_args', 'image must be at most 1024 characters');
    const label = typeof body.label === 'string' ? body.label : null;
    if (label && label.length > 256) return fail(400, 'invalid_args', 'label must be at most 256 characters');
    const env = typeof body.env === 'string' ? parseEnvString(body.env) : body.env && typeof body.env === 'object' ? Object.fromEntries(Object.entries(body.env).map(([k, v]) => [k, String(v)])) : {};
    const entries = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    if (entries.some((e) => e.length > 256) || entries.join(' ').length > 32_768) return fail(400, 'invalid_args', 'env entries must be at most 256 characters each, 32768 in all');
    const onstart = typeof body.onstart === 'string' ? body.onstart : null;
    const args = Array.isArray(body.args) ? body.args.map(String) : [];
    const argsStr = typeof body.args_str === 'string' ? body.args_str : '';
    if ((onstart ?? '').length + args.join(' ').length + argsStr.length > 4096) return fail(400, 'invalid_args', 'args, args_str and onstart must be at most 4096 characters together');
    const price = body.price === undefined || body.price === null ? null : body.price;
    if (price !== null && (typeof price !== 'number' || price < 0.001 || price > 128)) return fail(400, 'invalid_price', 'price must be between 0.001 and 128.0');
    const disk = typeof body.disk === 'number' ? body.disk : 8;
    if (disk > offer.diskSpace) return fail(400, 'invalid_args', `disk ${disk} GB exceeds the ${offer.diskSpace} GB available on this machine`);
    const runtype = typeof body.runtype === 'string' ? body.runtype : args.length || argsStr ? 'args' : 'ssh';

    offer.rented = true;
    const instanceId = nextInstanceId++;
    const home = join(root, `instance-${instanceId}`);
    await mkdir(home, { recursive: true });
    // The host's callbacks read the instance as it is when sshd starts or a connection comes, after it exists.
    const ssh = await OpenSshHost.start({
      home,
      state: join(root, `instance-${instanceId}.sshd`),
      up: () => inst.actualStatus === 'running' && sshEnabled(inst),
      env: () => ({
        PATH: instancePath(),
        // The create call's env entries that are variables; port and other docker flags ("-p 8000:8000") are not.
        ...Object.fromEntries(Object.entries(inst.env).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))),
        CONTAINER_ID: String(inst.id),
        CONTAINER_API_KEY: inst.apiKey,
        VAST_CONTAINERLABEL: `C.${inst.id}`,
        PUBLIC_IPADDR: '127.0.0.1',
        VAST_TCP_PORT_22: String(inst.ssh.port),
      }),
    });
    const inst: Instance = {
      id: instanceId,
      offer,
      label,
      image,
      env,
      onstart,
      runtype,
      args,
      price: price as number | null,
      disk,
      apiKey: randomBytes(32).toString('hex'),
      createdAt: Date.now(),
      destroyedAt: null,
      actualStatus: null,
      intendedStatus: 'running',
      curState: 'running',
      nextState: 'running',
      statusMsg: null,
      // Account keys reach new instances only (VAST.md 1.8).
      keys: [...accountKeys],
      home,
      ssh,
      timers: [],
      generation: 0,
      dphAfterIncrease: null,
      computeCost: 0,
      meterAt: Date.now(),
    };
    instances.set(inst.id, inst);
    await writeKeys(inst);

    const lowBid = price !== null && offer.minBid !== null && (price as number) < offer.minBid;
    if (lowBid || offer.scenario === 'create_error_with_contract') {
      // Vast creates the instance stopped and still reports an error (VAST.md 1.4): the caller must destroy new_contract.
      void stop(inst, 'scheduling failed');
      const msg = lowBid ? `Your bid ${price} is below the current minimum bid ${offer.minBid}; the instance was created stopped.` : 'Could not schedule the instance; it was created stopped.';
      return ok({ success: false, error: lowBid ? 'insufficient_bid' : 'scheduling_failed', msg, new_contract: inst.id });
    }
    if (body.target_state === 'stopped') void stop(inst, null);
    else boot(inst);
    return ok({ success: true, new_contract: inst.id, instance_api_key: inst.apiKey });
  };

  const destroy: Handler = async ({ id }) => {
    const inst = live(id);
    if (!inst) return notFound();
    inst.generation++;
    inst.timers.forEach(clearTimeout);
    inst.timers = [];
    settle(inst);
    inst.destroyedAt = inst.meterAt;
    await inst.ssh.close();
    // The machine is free again: its offer is listed, and can be rented, once more.
    inst.offer.rented = false;
    return ok({ success: true });
  };

  const manage: Handler = async ({ id }, body) => {
    const inst = live(id);
    if (!inst) return notFound();
    if (typeof body.label === 'string') {
      if (body.label.length > 1024) return fail(400, 'label_too_long', 'label must be at most 1024 characters');
      inst.label = body.label;
      return ok({ success: true, msg: `label for ${id} set to '${body.label}'` });
    }
    if (body.state === 'stopped') {
      await stop(inst, null);
      return ok({ success: true });
    }
    if (body.state === 'running') {
      if (inst.actualStatus === 'stopped') boot(inst);
      return ok({ success: true });
    }
    return fail(400, 'invalid_args', 'expected state ("running" or "stopped") or label');
  };

  /** GET /api/v1/instances/: keyset pagination, JSON-encoded query params (VAST.md 1.5). */
  const list: Handler = (_params, _body, query) => {
    const rawLimit = Number(parseJsonParam(query.limit) ?? 25);
    const limit = !Number.isFinite(rawLimit) || rawLimit <= 0 ? 5 : Math.min(25, Math.floor(rawLimit));
    const orderBy = parseJsonParam(query.order_by) ?? [{ col: 'id', dir: 'asc' }];
    const selectCols = parseJsonParam(query.select_cols) ?? ['*'];
    const filters = parseJsonParam(query.select_filters) ?? {};
    if (!Array.isArray(orderBy) || !orderBy.every((o) => o && typeof o.col === 'string')) return fail(400, 'invalid_request', 'order_by must be a list of {"col","dir"}');
    if (!Array.isArray(selectCols)) return fail(400, 'invalid_request', 'select_cols must be a list');
    if (!filters || typeof filters !== 'object' || Array.isArray(filters)) return fail(400, 'invalid_request', 'select_filters must be an object');
    for (const [col, cond] of Object.entries(filters)) {
      if (!FILTERABLE.has(col)) return fail(400, 'invalid_request', `Cannot filter on column '${col}'`);
      if (cond && typeof cond === 'object' && !Array.isArray(cond) && !Object.keys(cond).every(isOp)) return fail(400, 'invalid_request', `Unknown operator in filter on '${col}'`);
    }
    const order = orderBy.map((o: { col: string; dir?: string }) => [o.col, o.dir === 'desc' ? 'desc' : 'asc'] as [string, 'asc' | 'desc']);
    const cmp = comparator(order);
    const cols = [...order.map(([c]) => c).filter((c) => c !== 'id'), 'id'];
    const alive = [...instances.values()].filter((i) => i.destroyedAt === null).map(instanceRow);
    const found = alive.filter((r) => Object.entries(filters).every(([col, cond]) => matchesColumn(r[col], cond))).sort(cmp);
    let rest = found;
    const token = parseJsonParam(query.after_token);
    if (token !== undefined && token !== null && token !== '') {
      let after: Row;
      try {
        const values = JSON.parse(Buffer.from(String(token), 'base64url').toString());
        if (!Array.isArray(values) || values.length !== cols.length) throw new Error('token does not fit order_by');
        after = Object.fromEntries(cols.map((c, i) => [c, values[i]]));
      } catch {
        return fail(400, 'invalid_token', 'Invalid after_token');
      }
      rest = found.filter((r) => cmp(r, after) > 0);
    }
    const page = rest.slice(0, limit);
    const last = page[page.length - 1];
    const labelCounts: Record<string, number> = {};
    for (const r of alive) labelCounts[String(r.label ?? '')] = (labelCounts[String(r.label ?? '')] ?? 0) + 1;
    return ok({
      success: true,
      instances_found: found.length,
      total_instances: alive.length,
      label_counts: labelCounts,
      next_token: rest.length > limit && last ? Buffer.from(JSON.stringify(cols.map((c) => last[c]))).toString('base64url') : null,
      instances: selectCols.includes('*') ? page : page.map((r) => Object.fromEntries(selectCols.map((c: string) => [c, r[c] ?? null]))),
    });
  };

  /** root's authorized_keys follow the instance's key list (VAST.md 1.8). */
  const writeKeys = (inst: Instance) => inst.ssh.writeKeys(inst.keys.map((k) => k.public_key));

  const addAccountKey: Handler = (_params, body) => {
    if (!validKey(body.ssh_key)) return fail(400, 'no_ssh_key', 'ssh_key must be an SSH public key');
    const key: SshKey = { id: nextKeyId++, public_key: body.ssh_key.trim(), created_at: Date.now() / 1000 };
    accountKeys.push(key);
    return ok({ success: true, key: { id: key.id, user_id: 424242, public_key: key.public_key, created_at: key.created_at, deleted_at: null } });
  };

  const routes: Array<[string, string, Handler]> = [
    ['POST', '/api/v0/bundles/', (_p, body) => ok({ offers: searchOffers(offers, body) })],
    ['PUT', '/api/v0/asks/{id}/', create],
    [
      'GET',
      '/api/v0/instances/pending-price-increases/',
      () => {
        const rows = priceIncreases.filter((p) => p.state === 'pending' && live(p.contractId));
        return ok({
          success: true,
          count: rows.length,
          truncated: false,
          pending_price_increases: rows.map((p) => ({
            pending_price_increase_id: p.id,
            contract_id: p.contractId,
            new_gpu_costpersec: p.newDphTotal / 3600,
            old_gpu_costpersec: p.oldDphTotal / 3600,
            contract_end_date: null,
          })),
        });
      },
    ],
    ['PUT', '/api/v0/instances/accept-price-increase/', (_p, body) => answerIncrease(body, 'accepted')],
    ['PUT', '/api/v0/instances/reject-price-increase/', (_p, body) => answerIncrease(body, 'rejected')],
    ['GET', '/api/v0/instances/', () => fail(410, 'deprecated_endpoint', '/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.')],
    ['GET', '/api/v0/instances/{id}/', ({ id }) => ok({ instances: live(id) ? instanceRow(live(id) as Instance) : null })],
    ['PUT', '/api/v0/instances/{id}/', manage],
    ['DELETE', '/api/v0/instances/{id}/', destroy],
    ['GET', '/api/v1/instances/', list],
    ['POST', '/api/v0/ssh/', addAccountKey],
    ['GET', '/api/v0/ssh/', () => ok(accountKeys.map((k) => ({ id: k.id, user_id: 424242, public_key: k.public_key, created_at: k.created_at, deleted_at: null })))],
    [
      'DELETE',
      '/api/v0/ssh/{id}/',
      ({ id }) => {
        const i = accountKeys.findIndex((k) => k.id === id);
        if (i < 0) return fail(404, 'not_found', 'SSH key not found');
        accountKeys.splice(i, 1);
        return ok({ success: true });
      },
    ],
    [
      'POST',
      '/api/v0/instances/{id}/ssh/',
      async ({ id }, body) => {
        const inst = live(id);
        if (!inst) return notFound();
        if (!validKey(body.ssh_key)) return fail(400, 'invalid_args', 'ssh_key must be an SSH public key');
        inst.keys.push({ id: nextKeyId++, public_key: body.ssh_key.trim(), created_at: Date.now() / 1000 });
        await writeKeys(inst);
        return ok({ success: true, msg: 'SSH key attached successfully' });
      },
    ],
    [
      'GET',
      '/api/v0/instances/{id}/ssh/',
      ({ id }) => {
        const inst = live(id);
        if (!inst) return notFound();
        // Vast sends this list as a JSON string inside the JSON body.
        return ok({ success: true, ssh_keys: JSON.stringify(inst.keys.map((k) => ({ id: k.id, name: `key-${k.id}`, public_key: k.public_key }))) });
      },
    ],
    [
      'DELETE',
      '/api/v0/instances/{id}/ssh/{key_id}/',
      async ({ id, keyId }) => {
        const inst = live(id);
        if (!inst) return notFound();
        const i = inst.keys.findIndex((k) => k.id === keyId);
        if (i < 0) return fail(404, 'not_found', 'SSH key not attached');
        inst.keys.splice(i, 1);
        await writeKeys(inst);
        return ok({ success: true });
      },
    ],
    [
      'GET',
      '/api/v0/users/current/',
      () => ok({ id: 424242, username: 'trainyard-test', email: 'test@trainyard.invalid', credit: 100, balance: 0, ssh_key: accountKeys[0]?.public_key ?? null, can_pay: true, has_billing: true }),
    ],
  ];
  const INSTANCE_KEY_ROUTES = new Set(['GET /api/v0/instances/{id}/', 'PUT /api/v0/instances/{id}/', 'DELETE /api/v0/instances/{id}/']);
  const compiled = routes.map(([method, pattern, handler]) => ({
    method,
    key: `${method} ${pattern}`,
    // Trailing slash optional: the CLI and dstack send it, other clients may not.
    re: new RegExp(`^${pattern.replace(/\/$/, '').replace(/\{id\}|\{key_id\}/g, '(\\d+)')}/?$`),
    handler,
  }));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: unknown = raw ? raw : null;
    let badJson = false;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        badJson = true;
      }
    }
    const auth = req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1] ?? query.api_key;
    const route = compiled.find((r) => r.method === req.method && r.re.test(url.pathname));
    // An instance's own key (CONTAINER_API_KEY) can show, start, stop or destroy that instance, nothing else.
    const ownInstance = route && INSTANCE_KEY_ROUTES.has(route.key) ? instances.get(Number(url.pathname.match(route.re)?.[1])) : undefined;
    const authorized = auth === apiKey || (auth !== undefined && ownInstance !== undefined && ownInstance.apiKey === auth);
    const entry: VastTestRequest = { method: req.method ?? 'GET', path: url.pathname, query, body, authorized, status: 0 };
    log.push(entry);
    const send = (reply: Reply) => {
      entry.status = reply.status;
      if (reply.status === 429) served429++;
      res.writeHead(reply.status, { 'content-type': reply.text ? 'text/plain' : 'application/json' });
      res.end(reply.text ? String(reply.body) : JSON.stringify(reply.body));
    };

    const routeKey = route?.key ?? `${req.method} ${url.pathname}`;
    const script = scripted.find((s) => s.route === undefined || routeKey.includes(s.route));
    if (script) {
      scripted.splice(scripted.indexOf(script), 1);
      return send(script.reply());
    }
    // Offer search works without a key (gpuhunt calls it so); a wrong key is refused everywhere.
    if (!authorized && !(auth === undefined && routeKey === 'POST /api/v0/bundles/')) return send(fail(401, 'auth_error', 'Invalid user key'));
    if (!route) return send(fail(404, 'not_found', `no route ${req.method} ${url.pathname}`));
    // Minimum interval per endpoint and identity, from the last request served there (VAST.md 1.2): 429, no Retry-After.
    const interval = minInterval[route.key] ?? 0;
    if (interval > 0) {
      const slot = `${route.key}\n${auth ?? ''}`;
      const now = performance.now();
      const last = lastServed.get(slot);
      if (last !== undefined && now - last < interval) return send(rateLimitBody(route.key));
      lastServed.set(slot, now);
    }
    if (badJson) return send(fail(400, 'invalid_args', 'request body is not valid JSON'));
    const [, a, b] = url.pathname.match(route.re) ?? [];
    const json = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const reply = await route.handler({ id: Number(a), keyId: Number(b) }, json, query);
    // "Acted, then failed": the handler's work stands, the client sees a 5xx.
    const acted = afterActing.find((s) => route.key.includes(s.route));
    if (acted) {
      afterActing.splice(afterActing.indexOf(acted), 1);
      return send(gatewayReply(acted.status));
    }
    send(reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, error: 'internal', msg: err.message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  offers = toOffers(opts.offers ?? []);

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    addOffers: (inputs) => void offers.push(...toOffers(inputs)),
    setOffers: (inputs) => void (offers = toOffers(inputs)),
    instances: () => [...instances.values()].map(publicInstance),
    alive: () => [...instances.values()].filter((i) => i.destroyedAt === null).map(publicInstance),
    rateLimitNext(n, route) {
      for (let k = 0; k < n; k++) scripted.push({ route, reply: () => RATE_LIMIT_BODIES[rateLimited++ % RATE_LIMIT_BODIES.length] ?? RATE_LIMIT_BODIES[0] });
    },
    failNext(n, status, route) {
      for (let k = 0; k < n; k++) {
        scripted.push({ route, reply: () => gatewayReply(status ?? (failed++ % 2 === 0 ? 502 : 503)) });
      }
    },
    failAfterActing(n, route, status = 502) {
      for (let k = 0; k < n; k++) afterActing.push({ route, status });
    },
    rateLimited: () => served429,
    bill(): VastTestBill {
      const now = Date.now();
      const lines = [...instances.values()].map((inst) => {
        const compute = inst.computeCost + computeSince(inst, now);
        const storage = (storageRate(inst) * ((inst.destroyedAt ?? now) - inst.createdAt)) / 3_600_000;
        return { id: inst.id, label: inst.label, compute, storage, total: compute + storage, running: inst.destroyedAt === null && inst.actualStatus === 'running', destroyedAt: inst.destroyedAt };
      });
      return { instances: lines, total: lines.reduce((sum, l) => sum + l.total, 0) };
    },
    processes: (id) => instances.get(id)?.ssh.processes() ?? [],
    proposePriceIncrease(id, newDphTotal) {
      const inst = live(id);
      if (!inst) throw new Error(`no live instance ${id}`);
      const p: PriceIncrease = { id: nextPriceIncreaseId++, contractId: id, newDphTotal, oldDphTotal: dphTotal(inst), state: 'pending' };
      priceIncreases.push(p);
      return p.id;
    },
    priceIncrease(pendingId) {
      return priceIncreases.find((p) => p.id === pendingId)?.state ?? null;
    },
    outbid(id) {
      const inst = live(id);
      if (!inst) throw new Error(`no live instance ${id}`);
      void stop(inst, 'outbid: a higher bid took the machine');
    },
    cutNetwork(id) {
      const inst = live(id);
      if (!inst) throw new Error(`no live instance ${id}`);
      inst.ssh.partition();
    },
    restoreNetwork(id) {
      const inst = live(id);
      if (!inst) throw new Error(`no live instance ${id}`);
      inst.ssh.heal();
    },
    sshConnections: (id) => instances.get(id)?.ssh.connections ?? 0,
    requests: () => [...log],
    async close() {
      for (const inst of instances.values()) {
        inst.generation++;
        inst.timers.forEach(clearTimeout);
      }
      await Promise.all([...instances.values()].map((i) => i.ssh.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!opts.root) await rm(root, { recursive: true, force: true });
    },
  };
}

/** The most of these instances alive at one moment, by the test server's own create and destroy times. */
export function peakAlive(instances: VastTestInstance[]): number {
  const edges = instances.flatMap((i) => [
    { at: i.createdAt, d: 1 },
    { at: i.destroyedAt ?? Infinity, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let alive = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (alive += e.d));
  return peak;
}
export { OpenSshHost, type OpenSshHostOptions } from './openssh-host';
export { ed25519KeyPair } from './ssh-key-pair';
