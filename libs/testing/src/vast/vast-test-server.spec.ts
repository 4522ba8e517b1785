import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Client, type ClientChannel, type SFTPWrapper } from 'ssh2';
import { waitFor } from '../wait-for';
import { ed25519KeyPair, startVastTestServer, type VastTestServer } from './index';

const until = <T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000) => waitFor(check, what, timeoutMs, 10);

type Json = Record<string, any>;

async function api(vast: VastTestServer, method: string, path: string, body?: unknown, key: string | null = vast.apiKey) {
  const res = await fetch(`${vast.url}${path}`, {
    method,
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json as Json, text, headers: res.headers };
}

/** GET /instances/{id}/ as a client does it: a 429 (the show-instance minimum interval) is retried. */
async function show(vast: VastTestServer, id: number, key = vast.apiKey): Promise<Json | null> {
  for (;;) {
    const res = await api(vast, 'GET', `/api/v0/instances/${id}/`, undefined, key);
    if (res.status !== 429) return res.json.instances as Json | null;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function create(vast: VastTestServer, offerId: number, body: Json = {}) {
  return api(vast, 'PUT', `/api/v0/asks/${offerId}/`, { client_id: 'me', image: 'pytorch/pytorch:latest', disk: 20, runtype: 'ssh_direct', ...body });
}

async function running(vast: VastTestServer, id: number): Promise<Json> {
  let inst: Json | null = null;
  await until(async () => (inst = await show(vast, id))?.actual_status === 'running', `instance ${id} running`);
  return inst as unknown as Json;
}

function sshConnect(port: number, privateKey: string, onHostKey?: (key: Buffer) => void): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'root',
      privateKey,
      hostVerifier: (key: Buffer) => {
        onHostKey?.(key);
        return true;
      },
    });
  });
}

function exec(client: Client, command: string, stdin?: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      stream.on('data', (d: Buffer) => (stdout += d));
      stream.stderr.on('data', (d: Buffer) => (stderr += d));
      stream.on('exit', (c: number | null) => (code = c));
      stream.on('close', () => resolve({ stdout, stderr, code }));
      if (stdin !== undefined) stream.end(stdin);
    });
  });
}

/** Starts `command` in the background on the instance; answers its pid on this machine. */
async function background(vast: VastTestServer, id: number, client: Client, command = 'sleep 1000'): Promise<number> {
  const nsPid = Number((await exec(client, `nohup ${command} >/dev/null 2>&1 </dev/null & echo $!`)).stdout);
  const found = vast.processes(id).find((p) => p.nsPid === nsPid);
  if (!found) throw new Error(`no process ${nsPid} in instance ${id}: ${JSON.stringify(vast.processes(id))}`);
  return found.pid;
}

/** Whether an exec's channel closes within `ms`, and what it printed meanwhile. */
function closesWithin(client: Client, command: string, ms: number): Promise<{ closed: boolean; stdout: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream: ClientChannel) => {
      if (err) return reject(err);
      let stdout = '';
      stream.on('data', (d: Buffer) => (stdout += d));
      const timer = setTimeout(() => resolve({ closed: false, stdout }), ms);
      stream.on('close', () => {
        clearTimeout(timer);
        resolve({ closed: true, stdout });
      });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Vast API test server', () => {
  let vast: VastTestServer;
  let localDir: string;
  const userKey = ed25519KeyPair();
  const otherKey = ed25519KeyPair();

  beforeEach(async () => {
    vast = await startVastTestServer({ loadingMs: 60 });
    localDir = await mkdtemp(join(tmpdir(), 'ty-vast-spec-'));
  });
  afterEach(async () => {
    await vast.close();
    await rm(localDir, { recursive: true, force: true });
  });

  describe('offers', () => {
    beforeEach(() => {
      vast.setOffers([
        { id: 1, gpu_name: 'RTX 4090', dph_base: 0.3, reliability2: 0.99 },
        { id: 2, gpu_name: 'RTX 3090', dph_base: 0.2, reliability2: 0.95, min_bid: null },
        { id: 3, gpu_name: 'H100 SXM', num_gpus: 2, dph_total: 4.5, dph_base: 4.4, reliability2: 0.999, verified: false },
        { id: 4, gpu_name: 'A100 SXM4', dph_base: 1.1, cuda_max_good: 12.2 },
      ]);
    });
    const search = async (body: Json) => (await api(vast, 'POST', '/api/v0/bundles/', body)).json.offers.map((o: Json) => o.id);

    it('filters with every operator, several per field, ignoring unknown fields', async () => {
      expect(await search({ gpu_name: { eq: 'RTX 4090' } })).toEqual([1]);
      expect((await search({ gpu_name: { neq: 'RTX 4090' } })).sort()).toEqual([2, 3, 4]);
      expect((await search({ gpu_name: { in: ['RTX 4090', 'RTX 3090'] } })).sort()).toEqual([1, 2]);
      expect((await search({ gpu_name: { notin: ['RTX 4090', 'RTX 3090'] } })).sort()).toEqual([3, 4]);
      expect((await search({ gpu_ram: { gte: 80000 } })).sort()).toEqual([3, 4]);
      expect((await search({ dph_total: { gt: 0.25, lt: 2 } })).sort()).toEqual([1, 4]);
      expect((await search({ reliability2: { lte: 0.95 } })).sort()).toEqual([2]);
      expect((await search({ verified: { eq: true }, cuda_max_good: { gte: 12.8 }, no_such_field: { eq: 1 } })).sort()).toEqual([1, 2]);
    });

    it('orders, limits, prices storage and offers interruptibles only with min_bid', async () => {
      expect(await search({ order: [['dph_total', 'asc']] })).toEqual([2, 1, 4, 3]);
      expect(await search({ order: [['dph_total', 'desc']], limit: 2 })).toEqual([3, 4]);
      expect((await search({ type: 'bid' })).sort()).toEqual([1, 3, 4]);
      const [offer] = (await api(vast, 'POST', '/api/v0/bundles/', { id: { eq: 1 }, allocated_storage: 72, type: 'on-demand' })).json.offers;
      // 0.15 $/GB/month default storage: 72 GB cost 0.015 $/h on top of dph_base.
      expect(offer).toMatchObject({ dph_base: 0.3, dph_total: 0.315, gpu_ram: 24564, storage_cost: 0.15, min_bid: 0.15, rentable: true, rented: false });
      expect(offer.dph_total).toBeCloseTo(0.315, 6);
    });

    it('answers a search without a key, and drops an offer once it is used', async () => {
      expect((await api(vast, 'POST', '/api/v0/bundles/', {}, null)).status).toBe(200);
      expect((await create(vast, 1)).json.success).toBe(true);
      expect(await search({})).not.toContain(1);
      const again = await create(vast, 1);
      expect(again.status).toBe(404);
      expect(again.json.msg).toContain('no_such_ask');
    });
  });

  describe('create', () => {
    it('rejects what VAST.md says it rejects', async () => {
      vast.setOffers([{ id: 10 }, { id: 11, scenario: 'vanished' }, { id: 12, scenario: 'gone' }]);
      expect(await create(vast, 10, { image: undefined })).toMatchObject({ status: 400, json: { success: false, error: 'invalid_args' } });
      expect(await create(vast, 10, { label: 'x'.repeat(257) })).toMatchObject({ status: 400, json: { error: 'invalid_args' } });
      expect(await create(vast, 10, { price: 500 })).toMatchObject({ status: 400, json: { error: 'invalid_price' } });
      expect(await create(vast, 10, { onstart: 'x'.repeat(5000) })).toMatchObject({ status: 400, json: { error: 'invalid_args' } });
      expect(await create(vast, 11)).toMatchObject({ status: 404, json: { success: false, error: 'invalid_args', ask_id: 11 } });
      expect((await create(vast, 11)).json.msg).toContain('no_such_ask');
      expect(await create(vast, 12)).toMatchObject({ status: 410, json: { success: false, error: 'no_such_ask' } });
      expect(await create(vast, 999)).toMatchObject({ status: 404 });
      // The vanished offers are gone from search too.
      expect((await api(vast, 'POST', '/api/v0/bundles/', {})).json.offers.map((o: Json) => o.id)).toEqual([10]);
      expect(vast.instances()).toEqual([]);
    });

    it('stores env given as an object or as a docker flag string', async () => {
      vast.setOffers([{ id: 20 }, { id: 21 }]);
      const a = await create(vast, 20, { env: { FOO: 'bar', '-p 8000:8000': '1' }, label: 'ty-a' });
      const b = await create(vast, 21, { env: '-e FOO=baz -e X=1 -p 10022:10022' });
      expect((await show(vast, a.json.new_contract))?.extra_env).toEqual([
        ['FOO', 'bar'],
        ['-p 8000:8000', '1'],
      ]);
      expect((await show(vast, b.json.new_contract))?.extra_env).toEqual([
        ['FOO', 'baz'],
        ['X', '1'],
        ['-p 10022:10022', '1'],
      ]);
      expect(vast.instances()[0]).toMatchObject({ label: 'ty-a', image: 'pytorch/pytorch:latest', disk: 20, price: null, offerId: 20, destroyedAt: null });
    });
  });

  describe('instance lifecycle', () => {
    it('goes null → loading → running, with ports only when running, then is destroyed', async () => {
      // Long enough a null stretch (loadingMs / 3) for the first show to land in it on a busy machine.
      await vast.close();
      vast = await startVastTestServer({ loadingMs: 900 });
      vast.setOffers([{ id: 30, gpu_name: 'RTX 4090', dph_base: 0.4, storage_cost: 0.36 }]);
      const created = await create(vast, 30, { label: 'ty-install-lease1', disk: 10 });
      expect(created).toMatchObject({ status: 200, json: { success: true, new_contract: expect.any(Number), instance_api_key: expect.any(String) } });
      const id = created.json.new_contract;
      const first = await show(vast, id);
      expect(first).toMatchObject({ id, actual_status: null, intended_status: 'running', label: 'ty-install-lease1', ssh_host: '127.0.0.1', public_ipaddr: '127.0.0.1', bundle_id: 30 });
      expect(first?.ports).toBeUndefined();
      const statuses = new Set<string | null>();
      await until(async () => {
        const s = (await show(vast, id))?.actual_status;
        statuses.add(s);
        return s === 'running';
      }, 'running');
      expect(statuses.has('loading')).toBe(true);
      const inst = (await show(vast, id)) as Json;
      expect(inst).toMatchObject({
        actual_status: 'running',
        cur_state: 'running',
        next_state: 'running',
        gpu_name: 'RTX 4090',
        num_gpus: 1,
        gpu_totalram: 24564,
        is_bid: false,
        ssh_port: vast.alive()[0]?.sshPort,
        ports: { '22/tcp': [{ HostIp: '0.0.0.0', HostPort: String(vast.alive()[0]?.sshPort) }] },
      });
      // 10 GB at 0.36 $/GB/month is 0.005 $/h.
      expect(inst.dph_total).toBeCloseTo(0.405, 6);
      expect(vast.alive()[0]).toMatchObject({ id, actualStatus: 'running', dphTotal: inst.dph_total });

      expect(await api(vast, 'DELETE', `/api/v0/instances/${id}/`)).toMatchObject({ status: 200, json: { success: true } });
      expect(await show(vast, id)).toBeNull();
      expect(await api(vast, 'DELETE', `/api/v0/instances/${id}/`)).toMatchObject({ status: 404, json: { success: false, error: 'not_found', msg: 'Instance not found' } });
      expect(vast.alive()).toEqual([]);
      expect(vast.instances()[0]?.destroyedAt).toEqual(expect.any(Number));
      expect(await show(vast, 123)).toBeNull();
    });

    it('labels, stops and restarts through PUT /instances/{id}/: the stop kills every process, sshd comes back on the same port and key', async () => {
      vast.setOffers([{ id: 31 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      const id = (await create(vast, 31)).json.new_contract;
      expect(await api(vast, 'PUT', `/api/v0/instances/${id}/`, { label: 'renamed' })).toMatchObject({ json: { success: true, msg: `label for ${id} set to 'renamed'` } });
      expect(await api(vast, 'PUT', `/api/v0/instances/${id}/`, { label: 'x'.repeat(1025) })).toMatchObject({ status: 400, json: { error: 'label_too_long' } });
      const port = (await running(vast, id)).ssh_port;
      const before = await sshConnect(port, userKey.private);
      const closed = new Promise<void>((r) => before.once('close', () => r()));
      const sleeper = await background(vast, id, before);
      await exec(before, 'echo kept > kept.txt');
      await api(vast, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
      // The answer comes once the container is down: nothing of it runs any more.
      expect(alive(sleeper)).toBe(false);
      expect(vast.processes(id)).toEqual([]);
      await closed;
      expect(await show(vast, id)).toMatchObject({ label: 'renamed', actual_status: 'stopped', intended_status: 'stopped' });
      await expect(sshConnect(port, userKey.private)).rejects.toThrow();
      await api(vast, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      expect((await running(vast, id)).ssh_port).toBe(port);
      let hostKey: Buffer | undefined;
      const after = await sshConnect(port, userKey.private, (k) => (hostKey = k));
      expect(
        createHash('sha256')
          .update(hostKey as Buffer)
          .digest('base64'),
      ).toBe(vast.alive()[0]?.hostKeySha256);
      // The disk survives a stop.
      expect(await exec(after, 'cat kept.txt')).toMatchObject({ stdout: 'kept\n', code: 0 });
      after.end();
    });

    it('stops cleanly while sshd is still starting, and starts again', async () => {
      vast.setOffers([{ id: 32 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      const id = (await create(vast, 32)).json.new_contract;
      // sshd starts with the loading; the stop overtakes it.
      await api(vast, 'PUT', `/api/v0/instances/${id}/`, { state: 'stopped' });
      expect(vast.processes(id)).toEqual([]);
      await api(vast, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      vast.outbid(id);
      await api(vast, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      const client = await sshConnect((await running(vast, id)).ssh_port, userKey.private);
      expect(await exec(client, 'echo $((6 * 7))')).toMatchObject({ stdout: '42\n', code: 0 });
      // One sshd: the cancelled starts left nothing behind.
      expect(vast.processes(id).filter((p) => p.cmdline.includes('[listener]'))).toHaveLength(1);
      client.end();
    });

    it.each([
      ['exited', 'exited'],
      ['unknown', 'unknown'],
      ['offline', 'offline'],
    ] as const)('reaches %s and never runs', async (scenario, status) => {
      vast.setOffers([{ id: 40, scenario }]);
      const id = (await create(vast, 40)).json.new_contract;
      await until(async () => (await show(vast, id))?.actual_status === status, status);
      await new Promise((r) => setTimeout(r, 150));
      expect((await show(vast, id))?.actual_status).toBe(status);
    });

    it('stays loading, or created with an OCI runtime failure', async () => {
      vast.setOffers([
        { id: 41, scenario: 'stuck_loading' },
        { id: 42, scenario: 'oci_failure' },
      ]);
      const stuck = (await create(vast, 41)).json.new_contract;
      const oci = (await create(vast, 42)).json.new_contract;
      await until(async () => (await show(vast, oci))?.actual_status === 'created', 'created');
      await new Promise((r) => setTimeout(r, 150));
      expect((await show(vast, stuck))?.actual_status).toBe('loading');
      expect((await show(vast, oci))?.status_msg).toContain(': OCI runtime create failed:');
    });

    it('answers an error that still carries new_contract, for the scenario and for a bid below min_bid', async () => {
      vast.setOffers([
        { id: 43, scenario: 'create_error_with_contract' },
        { id: 44, min_bid: 0.2 },
      ]);
      for (const [offer, body] of [
        [43, {}],
        [44, { price: 0.1 }],
      ] as const) {
        const res = await create(vast, offer, body);
        expect(res.json).toMatchObject({ success: false, error: expect.any(String), new_contract: expect.any(Number) });
        expect(await show(vast, res.json.new_contract)).toMatchObject({ actual_status: 'stopped', intended_status: 'stopped', cur_state: 'stopped', next_state: 'stopped' });
      }
      expect(vast.alive()).toHaveLength(2);
    });

    it('outbids a bid instance after outbidAfterMs, or on demand, killing its processes', async () => {
      vast.setOffers([
        { id: 45, scenario: 'outbid', outbidAfterMs: 200, min_bid: 0.1 },
        { id: 46, min_bid: 0.1 },
      ]);
      const auto = (await create(vast, 45, { price: 0.1 })).json.new_contract;
      const forced = (await create(vast, 46, { price: 0.12 })).json.new_contract;
      expect(await running(vast, auto)).toMatchObject({ is_bid: true, dph_base: 0.1 });
      await running(vast, forced);
      await until(async () => (await show(vast, auto))?.actual_status === 'stopped', 'outbid');
      expect(await show(vast, auto)).toMatchObject({ cur_state: 'stopped', intended_status: 'stopped', next_state: 'stopped' });
      expect((await show(vast, auto))?.ports).toBeUndefined();

      await api(vast, 'POST', `/api/v0/instances/${forced}/ssh/`, { ssh_key: userKey.public });
      const [, forcedInstance] = vast.alive();
      expect(forcedInstance).toBeDefined();
      const client = await sshConnect(forcedInstance!.sshPort, userKey.private);
      client.on('error', () => undefined);
      const pid = await background(vast, forced, client);
      client.end();
      expect(alive(pid)).toBe(true);
      vast.outbid(forced);
      expect(await show(vast, forced)).toMatchObject({ actual_status: 'stopped', cur_state: 'stopped', intended_status: 'stopped', next_state: 'stopped' });
      await until(() => !alive(pid), 'sleep killed');
    });
  });

  describe('v1 instance list', () => {
    it('pages 60 instances 25 at a time with next_token, filters by label and counts labels', async () => {
      vast.setOffers(Array.from({ length: 60 }, (_, i) => ({ id: 100 + i })));
      for (let i = 0; i < 60; i++) {
        const created = (await create(vast, 100 + i, { label: i % 3 === 0 ? 'ty-a' : 'other', runtype: 'args', args: ['sleep', 'infinity'] })).json;
        if (!created.success) throw new Error(JSON.stringify(created));
      }
      const ids: number[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const q = new URLSearchParams({ limit: '100', ...(token ? { after_token: token } : {}) });
        const page: Json = (await api(vast, 'GET', `/api/v1/instances/?${q}`)).json;
        expect(page).toMatchObject({ success: true, instances_found: 60, total_instances: 60, label_counts: { 'ty-a': 20, other: 40 } });
        expect(page.instances.length).toBeLessThanOrEqual(25);
        ids.push(...page.instances.map((i: Json) => i.id));
        token = page.next_token;
        pages++;
      } while (token);
      expect(pages).toBe(3);
      expect(ids).toEqual(vast.alive().map((i) => i.id));

      const filters = encodeURIComponent(JSON.stringify({ label: { eq: 'ty-a' } }));
      const order = encodeURIComponent(JSON.stringify([{ col: 'id', dir: 'desc' }]));
      const cols = encodeURIComponent(JSON.stringify(['id', 'label', 'nope']));
      const first: Json = (await api(vast, 'GET', `/api/v1/instances/?select_filters=${filters}&order_by=${order}&select_cols=${cols}&limit=15`)).json;
      expect(first.instances_found).toBe(20);
      expect(first.instances[0]).toEqual({ id: ids[57], label: 'ty-a', nope: null });
      const second: Json = (await api(vast, 'GET', `/api/v1/instances/?select_filters=${filters}&order_by=${order}&limit=15&after_token=${first.next_token}`)).json;
      expect(second.instances).toHaveLength(5);
      expect(second.next_token).toBeNull();

      await api(vast, 'DELETE', `/api/v0/instances/${ids[0]}/`);
      expect((await api(vast, 'GET', '/api/v1/instances/?limit=0')).json).toMatchObject({ total_instances: 59, instances: expect.arrayContaining([]) });
      expect((await api(vast, 'GET', '/api/v1/instances/?limit=0')).json.instances).toHaveLength(5);
    });

    it('refuses computed filter columns and bad tokens; v0 list is gone', async () => {
      const dph = encodeURIComponent(JSON.stringify({ dph_total: { lt: 1 } }));
      expect(await api(vast, 'GET', `/api/v1/instances/?select_filters=${dph}`)).toMatchObject({ status: 400, json: { success: false, error: 'invalid_request' } });
      const gpus = encodeURIComponent(JSON.stringify({ num_gpus: { eq: 1 } }));
      expect((await api(vast, 'GET', `/api/v1/instances/?select_filters=${gpus}`)).status).toBe(400);
      expect(await api(vast, 'GET', '/api/v1/instances/?after_token=garbage')).toMatchObject({ status: 400, json: { error: 'invalid_token' } });
      expect(await api(vast, 'GET', '/api/v0/instances/')).toMatchObject({
        status: 410,
        json: { success: false, error: 'deprecated_endpoint', msg: '/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.' },
      });
    });
  });

  describe('auth, rate limits and failures', () => {
    it('lists pending price increases and takes an answer once, 404 no_pending_price_increase after', async () => {
      vast.setOffers([{ id: 63, dph_base: 0.3 }]);
      const id = (await create(vast, 63)).json.new_contract as number;
      const pending = vast.proposePriceIncrease(id, 0.45);
      const listed = await api(vast, 'GET', '/api/v0/instances/pending-price-increases/');
      expect(listed.json).toMatchObject({ success: true, count: 1, pending_price_increases: [{ pending_price_increase_id: pending, contract_id: id }] });
      expect((listed.json!.pending_price_increases as Array<{ new_gpu_costpersec: number }>)[0]!.new_gpu_costpersec * 3600).toBeCloseTo(0.45, 9);
      expect(await api(vast, 'PUT', '/api/v0/instances/accept-price-increase/', { pending_price_increase_id: pending })).toMatchObject({ status: 200 });
      expect(await show(vast, id)).toMatchObject({ dph_total: 0.45 });
      expect(await api(vast, 'PUT', '/api/v0/instances/reject-price-increase/', { pending_price_increase_id: pending })).toMatchObject({ status: 404, json: { error: 'no_pending_price_increase' } });
      await api(vast, 'DELETE', `/api/v0/instances/${id}/`);
    });

    it("lets an instance's own key (CONTAINER_API_KEY) show and destroy that instance only", async () => {
      vast.setOffers([{ id: 61 }, { id: 62 }]);
      const mine = (await create(vast, 61)).json;
      const other = (await create(vast, 62)).json;
      const key = mine.instance_api_key as string;
      expect(await api(vast, 'GET', `/api/v0/instances/${other.new_contract}/`, undefined, key)).toMatchObject({ status: 401 });
      expect(await api(vast, 'GET', '/api/v1/instances/', undefined, key)).toMatchObject({ status: 401 });
      expect(await api(vast, 'GET', `/api/v0/instances/${mine.new_contract}/`, undefined, key)).toMatchObject({ status: 200 });
      expect(await api(vast, 'DELETE', `/api/v0/instances/${mine.new_contract}/`, undefined, key)).toMatchObject({ status: 200, json: { success: true } });
      expect(vast.alive().map((i) => i.id)).toEqual([other.new_contract]);
      await api(vast, 'DELETE', `/api/v0/instances/${other.new_contract}/`);
    });

    it('refuses a bad or missing key with 401 auth_error and accepts ?api_key=', async () => {
      const bad = { status: 401, json: { success: false, error: 'auth_error', msg: 'Invalid user key' } };
      expect(await api(vast, 'GET', '/api/v0/users/current/', undefined, 'wrong')).toMatchObject(bad);
      expect(await api(vast, 'GET', '/api/v1/instances/', undefined, null)).toMatchObject(bad);
      expect(await api(vast, 'POST', '/api/v0/bundles/', {}, 'wrong')).toMatchObject(bad);
      expect(await api(vast, 'GET', `/api/v0/users/current/?api_key=${vast.apiKey}`, undefined, null)).toMatchObject({
        status: 200,
        json: { id: expect.any(Number), email: expect.any(String), credit: expect.any(Number) },
      });
      expect(vast.requests().map((r) => r.authorized)).toEqual([false, false, false, true]);
    });

    it('answers 429 without Retry-After, with each documented body, only on the chosen route', async () => {
      vast.rateLimitNext(3);
      const bodies = [];
      for (let i = 0; i < 3; i++) {
        const res = await api(vast, 'GET', '/api/v0/users/current/');
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBeNull();
        bodies.push(res.json ?? res.text);
      }
      expect(bodies).toEqual([
        expect.stringContaining('API requests too frequent'),
        { detail: expect.stringContaining('API requests too frequent') },
        { success: false, error: 'rate_limit_exceeded', msg: expect.stringContaining('API requests too frequent') },
      ]);
      expect((await api(vast, 'GET', '/api/v0/users/current/')).status).toBe(200);

      vast.rateLimitNext(1, 'DELETE /api/v0/instances/');
      expect((await api(vast, 'GET', '/api/v0/instances/5/')).status).toBe(200);
      expect((await api(vast, 'DELETE', '/api/v0/instances/5/')).status).toBe(429);
      expect((await api(vast, 'DELETE', '/api/v0/instances/5/')).status).toBe(404);

      vast.failNext(2, undefined, 'bundles');
      expect((await api(vast, 'POST', '/api/v0/bundles/', {})).status).toBe(502);
      expect((await api(vast, 'POST', '/api/v0/bundles/', {})).status).toBe(503);
      vast.failNext(1, 504);
      expect((await api(vast, 'POST', '/api/v0/bundles/', {})).status).toBe(504);
      expect((await api(vast, 'POST', '/api/v0/bundles/', {})).status).toBe(200);
    });
  });

  describe('ssh keys and SSH endpoints', () => {
    it('keeps account keys and attaches keys to an instance', async () => {
      expect(await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: 'not a key' })).toMatchObject({ status: 400, json: { error: 'no_ssh_key' } });
      const added = await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      expect(added.json).toMatchObject({ success: true, key: { id: expect.any(Number), public_key: userKey.public } });
      expect((await api(vast, 'GET', '/api/v0/ssh/')).json).toEqual([expect.objectContaining({ public_key: userKey.public })]);
      vast.setOffers([{ id: 50 }]);
      const id = (await create(vast, 50)).json.new_contract;
      expect(await api(vast, 'POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: otherKey.public })).toMatchObject({ json: { success: true, msg: 'SSH key attached successfully' } });
      const listed = JSON.parse((await api(vast, 'GET', `/api/v0/instances/${id}/ssh/`)).json.ssh_keys);
      expect(listed.map((k: Json) => k.public_key)).toEqual([userKey.public, otherKey.public]);
      expect(vast.alive()[0]?.sshKeys).toEqual([userKey.public, otherKey.public]);
    });

    it('authenticates attached keys only, runs commands as root in /root (the instance home) and pins its host key', async () => {
      vast.setOffers([{ id: 60 }]);
      const quoted = `a "b" \\c $HOME 'd' #e %f`;
      const created = (await create(vast, 60, { env: { FOO: 'bar', QUOTED: quoted, '-p 22:22': '1' }, runtype: 'ssh_direc ssh_proxy' })).json;
      const id = created.new_contract;
      const [instance] = vast.alive();
      expect(instance).toBeDefined();
      const port = instance!.sshPort;
      // Nothing answers until the container runs.
      await expect(sshConnect(port, userKey.private)).rejects.toThrow();
      await running(vast, id);
      await expect(sshConnect(port, userKey.private)).rejects.toThrow(/authentication/i);
      await api(vast, 'POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: userKey.public });
      let hostKey: Buffer | undefined;
      const client = await sshConnect(port, userKey.private, (k) => (hostKey = k));
      expect(
        createHash('sha256')
          .update(hostKey as Buffer)
          .digest('base64'),
      ).toBe(instance!.hostKeySha256);
      await expect(sshConnect(port, otherKey.private)).rejects.toThrow(/authentication/i);

      const home = instance!.home;
      expect(await exec(client, 'pwd; echo "$HOME $USER $FOO $CONTAINER_ID $VAST_CONTAINERLABEL $VAST_TCP_PORT_22 $PUBLIC_IPADDR"; echo oops >&2; exit 3')).toEqual({
        stdout: `/root\n/root root bar ${id} C.${id} ${port} 127.0.0.1\n`,
        stderr: 'oops\n',
        code: 3,
      });
      // SetEnv carries quotes, backslashes, $, # and % through unchanged; docker flags ('-p 22:22') are no variables.
      expect(await exec(client, 'printf "%s|%s|%s" "$QUOTED" "$CONTAINER_API_KEY" "$(env | grep -c ^-p)"')).toMatchObject({ stdout: `${quoted}|${created.instance_api_key}|0` });
      expect(await exec(client, 'cat > agent.sh && chmod +x agent.sh && ./agent.sh', 'echo from-stdin\n')).toMatchObject({ stdout: 'from-stdin\n', code: 0 });
      expect(await readFile(join(home, 'agent.sh'), 'utf8')).toBe('echo from-stdin\n');

      // SFTP, the other way to copy an agent over: relative paths start at HOME.
      await writeFile(join(localDir, 'agent.js'), 'console.log("agent " + process.env.FOO)');
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
      await new Promise<void>((resolve, reject) => sftp.mkdir('app', (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => sftp.fastPut(join(localDir, 'agent.js'), 'app/agent.js', (err) => (err ? reject(err) : resolve())));
      expect(await new Promise<string[]>((resolve, reject) => sftp.readdir('app', (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))))).toEqual(['agent.js']);
      expect(await exec(client, 'node app/agent.js')).toMatchObject({ stdout: 'agent bar\n', code: 0 });
      sftp.end();
      client.end();
    });

    it('refuses SSH for an args runtype, which provisions none', async () => {
      vast.setOffers([{ id: 61 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      const id = (await create(vast, 61, { runtype: 'args', args: ['python', 'train.py'] })).json.new_contract;
      expect((await running(vast, id)).ports).toBeUndefined();
      // Without an instance the refusal below would prove nothing.
      const [instance] = vast.alive();
      expect(instance).toBeDefined();
      await expect(sshConnect(instance!.sshPort, userKey.private)).rejects.toThrow();
    });

    it('carries bytes both ways through a remote forward (tcpip-forward) and a local one (direct-tcpip)', async () => {
      const echo: Server = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
      const echoPort = (echo.address() as AddressInfo).port;
      vast.setOffers([{ id: 70 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      const id = (await create(vast, 70)).json.new_contract;
      await running(vast, id);
      const [instance] = vast.alive();
      expect(instance).toBeDefined();
      const client = await sshConnect(instance!.sshPort, userKey.private);
      // The broker's side: connections to the remote port come back to it and go on to its local NATS (here: echo).
      client.on('tcp connection', (_info, accept) => {
        const channel = accept();
        const local = connect(echoPort, '127.0.0.1');
        channel.pipe(local).pipe(channel);
      });
      const remotePort = await new Promise<number>((resolve, reject) => client.forwardIn('127.0.0.1', 0, (err, p) => (err ? reject(err) : resolve(p))));
      expect(remotePort).toBeGreaterThan(0);
      // The instance's side: a process on the instance dials the forwarded port.
      const script = `node -e "const s=require('net').connect(${remotePort},'127.0.0.1',()=>s.end('ping-through-tunnel'));s.pipe(process.stdout)"`;
      expect(await exec(client, script)).toMatchObject({ stdout: 'ping-through-tunnel', code: 0 });

      const viaLocal = await new Promise<string>((resolve, reject) =>
        client.forwardOut('127.0.0.1', 0, '127.0.0.1', echoPort, (err, ch) => {
          if (err) return reject(err);
          let got = '';
          ch.on('data', (d: Buffer) => (got += d));
          ch.on('close', () => resolve(got));
          ch.end('pong');
        }),
      );
      expect(viaLocal).toBe('pong');
      await new Promise<void>((resolve, reject) => client.unforwardIn('127.0.0.1', remotePort, (err) => (err ? reject(err) : resolve())));
      client.end();
      echo.close();
    });

    it('kills every process of the instance on destroy (daemons included) and closes SSH, and everything on close', async () => {
      vast.setOffers([{ id: 80 }, { id: 81 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      const a = (await create(vast, 80)).json.new_contract;
      const b = (await create(vast, 81)).json.new_contract;
      await running(vast, a);
      await running(vast, b);
      expect(vast.alive()).toHaveLength(2);
      const [pa, pb] = vast.alive().map((i) => i.sshPort);
      const ca = await sshConnect(pa!, userKey.private);
      const cb = await sshConnect(pb!, userKey.private);
      const pidA = await background(vast, a, ca);
      // A daemon in a session of its own, whose parent has exited: no process group or session of sshd's holds it.
      await exec(ca, `nohup setsid sh -c 'sleep 1001' >/dev/null 2>&1 </dev/null &`);
      const daemon = await until(() => vast.processes(a).find((p) => p.cmdline === 'sleep 1001')?.pid, 'the daemon');
      const pidB = await background(vast, b, cb);
      expect(alive(pidA) && alive(daemon) && alive(pidB)).toBe(true);
      // Each instance sees its own processes only, sshd being its PID 1.
      const psA = (await exec(ca, 'ps -eo pid=,args=')).stdout;
      expect(psA).toMatch(/^\s*1 sshd: \/usr\/sbin\/sshd -D -e/);
      expect(psA).toContain('sleep 1001');
      expect(psA).not.toContain('sleep 1000 ');
      expect(vast.processes(b).map((p) => p.pid)).not.toContain(daemon);

      const closed = new Promise<void>((r) => ca.once('close', () => r()));
      await api(vast, 'DELETE', `/api/v0/instances/${a}/`);
      // Gone by the time destroy answers.
      expect([alive(pidA), alive(daemon)]).toEqual([false, false]);
      expect(vast.processes(a)).toEqual([]);
      await closed;
      expect(alive(pidB)).toBe(true);
      await expect(sshConnect(pa!, userKey.private)).rejects.toThrow();
      cb.on('error', () => undefined);
      const [pid1B] = vast.processes(b).map((p) => p.pid);
      expect(pid1B).toBeDefined();
      await vast.close();
      expect([alive(pidB), alive(pid1B!)]).toEqual([false, false]);
      vast = await startVastTestServer();
    });
  });

  describe('OpenSSH with bash as the login shell', () => {
    let client: Client;
    let id: number;
    beforeEach(async () => {
      vast.setOffers([{ id: 90 }, { id: 91 }]);
      await api(vast, 'POST', '/api/v0/ssh/', { ssh_key: userKey.public });
      id = (await create(vast, 90)).json.new_contract;
      client = await sshConnect((await running(vast, id)).ssh_port, userKey.private);
      client.on('error', () => undefined);
    });
    afterEach(() => client.end());

    it("logs root in with bash, HOME /root holding the instance's own files", async () => {
      const [mine] = vast.alive();
      expect(mine).toBeDefined();
      const home = mine!.home;
      await writeFile(join(home, 'dataset.txt'), 'mine');
      const other = (await create(vast, 91)).json.new_contract;
      const [, theirs] = vast.alive();
      expect(theirs).toBeDefined();
      await writeFile(join(theirs!.home, 'dataset.txt'), 'theirs');
      await running(vast, other);
      const { stdout } = await exec(client, 'echo "$BASH_VERSION"; readlink /proc/$$/exe; echo "$HOME $(id -un) $SHELL"; getent passwd root; cat ~/dataset.txt; echo; echo $(ls -A /root)');
      const [version, exe, who, passwd, data, ls] = stdout.split('\n');
      expect(version).toMatch(/^\d+\.\d+/);
      expect(exe).toMatch(/\/bash$/);
      expect(who).toBe('/root root /bin/bash');
      expect(passwd).toBe('root:x:0:0:root:/root:/bin/bash');
      expect(data).toBe('mine');
      expect(ls?.split(/\s+/).sort()).toEqual(['.ssh', 'dataset.txt']);
      expect(await readFile(join(home, '.ssh', 'authorized_keys'), 'utf8')).toBe(`${userKey.public}\n`);
    });

    it("keeps the channel open for a backgrounded && list (bash's subshell holds stdout), and closes it when every descriptor is redirected", async () => {
      // The bug the ssh2 server hid: bash runs `a && b &` in a subshell that keeps the channel's stdout until b ends.
      expect(await closesWithin(client, 'cd . && true && nohup sleep 30 > /dev/null 2>&1 < /dev/null & echo started', 1000)).toEqual({ closed: false, stdout: 'started\n' });
      // The fix: only the simple command goes to the background, with all of its descriptors redirected.
      expect(await closesWithin(client, `cd . && true && { nohup setsid sh -c 'sleep 30' > agent.log 2>&1 < /dev/null & } && echo started`, 10_000)).toEqual({ closed: true, stdout: 'started\n' });
      expect(await closesWithin(client, `nohup setsid sh -c 'sleep 31' > agent.log 2>&1 < /dev/null & echo started`, 10_000)).toEqual({ closed: true, stdout: 'started\n' });
      await until(() => ['sh -c sleep 30', 'sh -c sleep 31'].every((c) => vast.processes(id).some((p) => p.cmdline === c)), 'both agents running');
    });

    it('serves a login shell when asked for one, as bash', async () => {
      const out = await new Promise<string>((resolve, reject) =>
        client.shell(false, (err, stream) => {
          if (err) return reject(err);
          let got = '';
          stream.on('data', (d: Buffer) => (got += d));
          stream.on('close', () => resolve(got));
          stream.end('echo "shell:$0:$HOME"\nexit\n');
        }),
      );
      expect(out).toContain('shell:-bash:/root');
    });
  });

  describe('rate limits, acted-then-failed and billing', () => {
    it('limits show-instance to one request per 50 ms per key: 429 in plain text, no Retry-After, counted', async () => {
      vast.setOffers([{ id: 92 }]);
      const created = (await create(vast, 92)).json;
      const id = created.new_contract;
      const burst = await Promise.all([1, 2, 3].map(() => api(vast, 'GET', `/api/v0/instances/${id}/`)));
      expect(burst.map((r) => r.status).sort()).toEqual([200, 429, 429]);
      const limited = burst.find((r) => r.status === 429);
      expect(limited?.text).toBe('API requests too frequent endpoint threshold=2.0');
      expect(limited?.headers.get('retry-after')).toBeNull();
      expect(vast.rateLimited()).toBe(2);
      expect(vast.requests().filter((r) => r.status === 429)).toHaveLength(2);
      // Another identity (the instance's own key) and another endpoint are not limited by it.
      expect((await api(vast, 'GET', `/api/v0/instances/${id}/`, undefined, created.instance_api_key)).status).toBe(200);
      expect((await api(vast, 'GET', '/api/v1/instances/')).status).toBe(200);
      // The interval counts from the last request served: once it has passed, one goes through again.
      await until(async () => (await api(vast, 'GET', `/api/v0/instances/${id}/`)).status === 200, 'show served again');
      expect(vast.rateLimited()).toBe(vast.requests().filter((r) => r.status === 429).length);
      await vast.close();

      vast = await startVastTestServer({ loadingMs: 60, minIntervalMs: { 'GET /api/v0/instances/{id}/': 0, 'DELETE /api/v0/instances/{id}/': 60_000 } });
      vast.setOffers([{ id: 93 }, { id: 94 }]);
      const one = (await create(vast, 93)).json.new_contract;
      const two = (await create(vast, 94)).json.new_contract;
      const shows = await Promise.all([1, 2, 3, 4].map(() => api(vast, 'GET', `/api/v0/instances/${one}/`)));
      expect(shows.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(await api(vast, 'DELETE', `/api/v0/instances/${one}/`)).toMatchObject({ status: 200 });
      expect(await api(vast, 'DELETE', `/api/v0/instances/${two}/`)).toMatchObject({
        status: 429,
        json: { success: false, error: 'rate_limit_exceeded', msg: 'API requests too frequent endpoint threshold=3.0' },
      });
      expect(vast.alive().map((i) => i.id)).toEqual([two]);
      expect(vast.rateLimited()).toBe(1);
    });

    it('creates and destroys for real, then answers 502, with failAfterActing', async () => {
      vast.setOffers([{ id: 95 }]);
      vast.failAfterActing(1, 'PUT /api/v0/asks/{id}/');
      const created = await create(vast, 95);
      expect(created.status).toBe(502);
      expect(created.text).toContain('502 Bad Gateway');
      const [inst] = vast.alive();
      expect(inst).toMatchObject({ offerId: 95, destroyedAt: null });
      const { id, sshPort } = inst!;
      await running(vast, id);
      // The retry finds the offer taken by the instance it did create.
      expect(await create(vast, 95)).toMatchObject({ status: 404, json: { error: 'invalid_args' } });

      await api(vast, 'POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: userKey.public });
      const client = await sshConnect(sshPort, userKey.private);
      client.on('error', () => undefined);
      const pid = await background(vast, id, client);
      vast.failAfterActing(1, 'DELETE /api/v0/instances/{id}/', 504);
      expect(await api(vast, 'DELETE', `/api/v0/instances/${id}/`)).toMatchObject({ status: 504, text: 'Gateway Timeout' });
      expect(vast.alive()).toEqual([]);
      expect(alive(pid)).toBe(false);
      expect(await api(vast, 'DELETE', `/api/v0/instances/${id}/`)).toMatchObject({ status: 404, json: { error: 'not_found' } });
      client.end();
    });

    it('bills storage from create to destroy and compute only while running, at the bid or the accepted new price', async () => {
      // 0.72 $/GB/month × 10 GB = 0.01 $/h of storage.
      vast.setOffers([
        { id: 96, dph_base: 0.36, storage_cost: 0.72 },
        { id: 97, dph_base: 0.5, min_bid: 0.2, storage_cost: 0.72 },
      ]);
      const t0 = Date.now();
      const od = (await create(vast, 96, { disk: 10, label: 'on-demand' })).json.new_contract;
      const bid = (await create(vast, 97, { disk: 10, price: 0.25 })).json.new_contract;
      const line = (id: number) => vast.bill().instances.find((l) => l.id === id) as ReturnType<VastTestServer['bill']>['instances'][number];
      // Loading: storage only.
      expect(line(od)).toMatchObject({ label: 'on-demand', compute: 0, running: false, destroyedAt: null });
      await until(() => line(od).storage > 0, 'storage accruing');
      await running(vast, od);
      const runningFrom = Date.now();
      await running(vast, bid);
      await until(() => line(od).compute > 0 && line(bid).compute > 0, 'compute accruing');
      expect(line(od).running).toBe(true);

      // Outbid: the bid instance's compute stops, its storage goes on.
      const outbidAt = Date.now();
      vast.outbid(bid);
      const frozen = line(bid);
      expect(frozen.running).toBe(false);
      expect(frozen.compute).toBeLessThanOrEqual((0.25 * (outbidAt - t0)) / 3_600_000 + 1e-12);
      await until(() => line(bid).storage > frozen.storage, 'storage after outbid');
      expect(line(bid).compute).toBe(frozen.compute);

      // An accepted increase to 0.51 $/h in all: compute at 0.50 $/h from then on.
      const pending = vast.proposePriceIncrease(od, 0.51);
      expect(await api(vast, 'PUT', '/api/v0/instances/accept-price-increase/', { pending_price_increase_id: pending })).toMatchObject({ status: 200 });
      const beforeIncrease = line(od).compute;
      const increasedAt = Date.now();
      await until(() => Date.now() - increasedAt >= 30, '30 ms at the new price');
      const stoppedBefore = Date.now();
      await api(vast, 'PUT', `/api/v0/instances/${od}/`, { state: 'stopped' });
      const stopped = line(od);
      expect(stopped.running).toBe(false);
      // At least what the stretches we watched cost, at most what they could have.
      expect(beforeIncrease).toBeGreaterThanOrEqual((0.36 * (outbidAt - runningFrom)) / 3_600_000 - 1e-12);
      expect(stopped.compute).toBeGreaterThanOrEqual(beforeIncrease + (0.5 * (stoppedBefore - increasedAt)) / 3_600_000 - 1e-12);
      expect(stopped.compute).toBeLessThanOrEqual((0.5 * (Date.now() - t0)) / 3_600_000);
      await until(() => line(od).storage > stopped.storage, 'storage while stopped');
      expect(line(od).compute).toBe(stopped.compute);

      // Destroyed: nothing more accrues, and storage is exactly create → destroy.
      await api(vast, 'DELETE', `/api/v0/instances/${od}/`);
      await api(vast, 'DELETE', `/api/v0/instances/${bid}/`);
      const final = vast.bill();
      await until(() => Date.now() - (vast.instances()[1]?.destroyedAt as number) >= 20, '20 ms after destroy');
      expect(vast.bill()).toEqual(final);
      for (const inst of vast.instances()) {
        const l = line(inst.id);
        expect(l.destroyedAt).toBe(inst.destroyedAt);
        expect(l.storage).toBeCloseTo((0.01 * ((inst.destroyedAt as number) - inst.createdAt)) / 3_600_000, 15);
        expect(l.total).toBeCloseTo(l.compute + l.storage, 15);
      }
      expect(final.total).toBeCloseTo(
        final.instances.reduce((sum, l) => sum + l.total, 0),
        15,
      );
    });
  });
});
