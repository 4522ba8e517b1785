import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { natsServerEnv, serviceNodeArgs } from '@trainyard/config';
import type { BusRole } from '@trainyard/contracts';
import { natsServerConfig, natsServers, newRoleCredentials, type RoleCredential } from '@trainyard/messaging';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@trainyard/persistence';

export const SERVICES = [
  { name: 'scheduler', port: 3001, role: 'scheduler' },
  { name: 'gpu-broker', port: 3002, role: 'broker' },
  { name: 'trainer-agent', port: 3003, role: 'agent' },
  { name: 'promoter', port: 3004, role: 'promoter' },
  { name: 'notifier', port: 3005, role: 'notifier' },
] as const satisfies readonly { name: string; port: number; role: BusRole }[];

export type ServiceName = (typeof SERVICES)[number]['name'];

export interface StackOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Which services to run; all five by default. */
  services?: ServiceName[];
}

function answers(url: string, fallbackPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((done) => {
    const s = netConnect({ host: u.hostname, port: Number(u.port || fallbackPort) }, () => {
      s.end();
      done(true);
    });
    s.on('error', () => done(false));
    s.setTimeout(1500, () => {
      s.destroy();
      done(false);
    });
  });
}

function findOnPath(binary: string, env: NodeJS.ProcessEnv): string | null {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  for (const d of dirs) if (d && existsSync(join(d, binary))) return join(d, binary);
  return null;
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number, failed?: () => string | null, waiting?: (seconds: number) => void): Promise<void> {
  const started = Date.now();
  let told = started;
  while (Date.now() - started < timeoutMs) {
    const reason = failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (await check()) return;
    if (waiting && Date.now() - told >= 30_000) {
      told = Date.now();
      waiting(Math.round((told - started) / 1000));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s (TRAINYARD_READY_TIMEOUT_SECONDS)`);
}

/** Backstop per process starting at once: they share the CPUs, so five booting together take about five times one. */
const READY_SECONDS_PER_PROCESS = 120;

/**
 * How long a process may take to become ready when `together` start at once: TRAINYARD_READY_TIMEOUT_SECONDS
 * when set, else 120 s for each (600 s for the five services, 120 s for nats-server or one service restarted).
 */
function readyTimeoutMs(env: NodeJS.ProcessEnv, together: number): number {
  const raw = env.TRAINYARD_READY_TIMEOUT_SECONDS;
  const seconds = raw === undefined || raw === '' ? READY_SECONDS_PER_PROCESS * together : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`TRAINYARD_READY_TIMEOUT_SECONDS must be a positive number of seconds, not "${raw}"`);
  return seconds * 1000;
}

/**
 * The whole system on one machine with embedded defaults: a nats-server when none answers, an
 * embedded PostgreSQL when DATABASE_URL is unset, the local artifact folder, and the five services.
 */
export class LocalStack {
  private readonly children: { name: string; proc: ChildProcess; exit: string | null }[] = [];
  private pg?: EmbeddedPostgres;
  /** The embedded database's start, while it runs: stop() waits for it, so it never outlives the stack. */
  private database: Promise<void> = Promise.resolve();
  /** The roles' nkeys when this stack started its own (authenticated) nats-server. */
  private credentials: RoleCredential[] | null = null;
  readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: StackOptions) {
    const dataDir = resolve(opts.root, opts.env.DATA_DIR ?? '.trainyard');
    this.env = {
      ...opts.env,
      DATA_DIR: dataDir,
      NATS_URL: opts.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      ARTIFACTS_DIR: resolve(opts.root, opts.env.ARTIFACTS_DIR ?? join(dataDir, 'artifacts')),
      AGENT_WORK_DIR: resolve(opts.root, opts.env.AGENT_WORK_DIR ?? join(dataDir, 'work')),
    };
  }

  get dataDir(): string {
    return this.env.DATA_DIR!;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dataDir, 'logs'), { recursive: true });
    this.ensureApiTokens();
    // NATS and the database do not depend on each other: both start at once. The services need NATS
    // to start, but not the embedded database: they load their modules while it starts, and wait for
    // it to accept connections (DATABASE_WAIT_SECONDS). A failure of NATS is thrown once the database
    // has settled too, so that stop() finds whichever did start.
    const port = await this.embeddedPort();
    const nats = this.ensureNats();
    this.database = this.ensureDatabase(port);
    let databaseFailure: string | null = null;
    this.database.catch((err: Error) => (databaseFailure = `the embedded database did not start: ${err.message}`));
    try {
      await nats;
    } catch (err) {
      await this.database.catch(() => undefined);
      throw err;
    }
    const names = this.opts.services ?? SERVICES.map((s) => s.name);
    await Promise.all(names.map((name) => this.startService(name, names.length, () => databaseFailure)));
    await this.database;
    this.opts.log(`services ready (logs in ${join(this.dataDir, 'logs')})`);
  }

  /** The embedded database's port, chosen before it starts so the services can be given its URL; null when DATABASE_URL is set. */
  private async embeddedPort(): Promise<number | null> {
    if (this.env.DATABASE_URL) return null;
    return new Promise((done, fail) => {
      const probe = createServer();
      probe.once('error', fail);
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => done(port));
      });
    });
  }

  private async ensureDatabase(port: number | null): Promise<void> {
    if (port === null) return;
    this.env.DATABASE_URL = `postgres://postgres@127.0.0.1:${port}/postgres`;
    // One PGlite session serves every connection in turn: small pools suffice and stay under its limit.
    this.env.DATABASE_POOL_SIZE = '4';
    this.env.DATABASE_WAIT_SECONDS ||= String(readyTimeoutMs(this.env, 1) / 1000);
    this.pg = await startEmbeddedPostgres({ dataDir: join(this.dataDir, 'pglite', 'stack'), port, maxConnections: 64 });
    this.opts.log(`embedded PostgreSQL (PGlite) in ${join(this.dataDir, 'pglite', 'stack')}`);
  }

  /** The operator bearer token of the services' REST APIs (given, or made once and kept in DATA_DIR). */
  get apiToken(): string {
    return this.env.TRAINYARD_API_TOKEN!;
  }

  private ensureApiTokens(): void {
    if (!this.env.API_OPERATOR_TOKENS) {
      const file = join(this.dataDir, 'api-tokens.json');
      if (!existsSync(file)) writeFileSync(file, JSON.stringify({ operator: randomBytes(24).toString('base64url'), read: randomBytes(24).toString('base64url') }, null, 2), { mode: 0o600 });
      const made = JSON.parse(readFileSync(file, 'utf8')) as { operator: string; read: string };
      this.env.API_OPERATOR_TOKENS = made.operator;
      this.env.API_READ_TOKENS ??= made.read;
    }
    // The launcher's own calls (trainyard models) go with the first operator token.
    this.env.TRAINYARD_API_TOKEN ??= (this.env.API_OPERATOR_TOKENS.split(',')[0] ?? '').trim();
  }

  /** The nkey seed of a role on this stack's own nats-server; null on a server it did not start. */
  seedOf(role: BusRole): string | null {
    return this.credentials?.find((c) => c.role === role)?.seed ?? null;
  }

  /** Starts one service and waits until its readiness check passes; `together`: how many start at once; `failed`: a reason to stop waiting. */
  async startService(name: ServiceName, together = 1, failed: () => string | null = () => null): Promise<void> {
    const svc = SERVICES.find((s) => s.name === name)!;
    const child = this.spawnService(name, this.portOf(svc), svc.role);
    // A service that is still alive is still starting: it fails fast by exiting, so the deadline is only a backstop.
    await waitUntil(
      () => this.ready(this.portOf(svc)),
      name,
      readyTimeoutMs(this.env, together),
      () => (child.exit ? `exited (${child.exit}); see ${join(this.dataDir, 'logs', `${name}.log`)}` : failed()),
      (seconds) => this.opts.log(`still waiting for ${name} to be ready (${seconds} s; log ${join(this.dataDir, 'logs', `${name}.log`)})`),
    );
  }

  /** The processes that ended on their own so far (a crash, an exit), with how. */
  exits(): { name: string; exit: string }[] {
    return this.children.filter((c) => c.exit !== null).map((c) => ({ name: c.name, exit: c.exit! }));
  }

  /** Kills a service the hard way (no shutdown hooks), as a crash would. */
  async crash(name: ServiceName): Promise<void> {
    const child = this.children.find((c) => c.name === name && c.exit === null);
    if (!child) return;
    await new Promise<void>((done) => {
      child.proc.once('exit', () => done());
      child.proc.kill('SIGKILL');
    });
  }

  portOf(svc: { name: ServiceName }): number {
    const base = Number(this.env.TRAINYARD_BASE_PORT ?? 0);
    const index = SERVICES.findIndex((s) => s.name === svc.name);
    const known = SERVICES[index];
    if (!known) throw new Error(`${svc.name} is not a service of the local stack`);
    return base ? base + index : known.port;
  }

  private async ensureNats(): Promise<void> {
    const servers = natsServers(this.env.NATS_URL!);
    if ((await Promise.all(servers.map((s) => answers(s, 4222)))).some(Boolean)) return;
    if (servers.length > 1) throw new Error(`none of the NATS servers in NATS_URL answers (${servers.join(', ')}); a cluster is never started by trainyard`);
    const [url] = servers;
    if (url === undefined) throw new Error('NATS_URL names no server');
    const binary = findOnPath('nats-server', this.env);
    if (!binary) {
      throw new Error(
        `no NATS answers at ${url} and nats-server is not installed. Install it (Debian/Ubuntu: apt-get install nats-server; ` +
          `macOS: brew install nats-server; or a release from the NATS project) or set NATS_URL to a running server with JetStream.`,
      );
    }
    const u = new URL(url);
    const storeDir = join(this.dataDir, 'nats');
    mkdirSync(storeDir, { recursive: true });
    // A server this stack starts admits only its roles' credentials (made once, kept in DATA_DIR).
    const auth = join(this.dataDir, 'nats-auth');
    mkdirSync(auth, { recursive: true, mode: 0o700 });
    const keys = join(auth, 'credentials.json');
    if (!existsSync(keys)) writeFileSync(keys, JSON.stringify(newRoleCredentials(), null, 2), { mode: 0o600 });
    this.credentials = JSON.parse(readFileSync(keys, 'utf8')) as RoleCredential[];
    const prefix = this.env.TRAINYARD_PREFIX || 'trainyard';
    const conf = join(auth, 'nats.conf');
    writeFileSync(conf, natsServerConfig({ prefix, credentials: this.credentials, host: u.hostname, port: Number(u.port || 4222), storeDir }), { mode: 0o600 });
    // The launcher itself (trainyard run --up) is an operator; the broker hands rented agents the agents' key.
    this.env.NATS_NKEY_SEED = this.seedOf('operator')!;
    this.env.VAST_AGENT_NATS_NKEY_SEED ??= this.seedOf('agent')!;
    const nats = this.spawn('nats-server', binary, ['-c', conf], natsServerEnv(this.env));
    await waitUntil(
      () => answers(url, 4222),
      'nats-server',
      readyTimeoutMs(this.env, 1),
      () => (nats.exit ? `exited (${nats.exit}); see ${join(this.dataDir, 'logs', 'nats-server.log')}` : null),
    );
    this.opts.log(`started nats-server with JetStream at ${url} (store ${storeDir}; one nkey per role, permissions in ${conf})`);
  }

  private spawnService(name: string, port: number, role: BusRole) {
    const dist = join(this.opts.root, 'apps', name, 'dist');
    if (!existsSync(join(dist, 'main.js'))) throw new Error(`${name} is not built: run npm run build first`);
    const seed = this.seedOf(role);
    return this.spawn(name, process.execPath, serviceNodeArgs(dist), {
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(seed ? { NATS_NKEY_SEED: seed } : {}),
    });
  }

  private spawn(name: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const out = openSync(join(this.dataDir, 'logs', `${name}.log`), 'a');
    const proc = spawn(command, args, { cwd: this.opts.root, env: { ...this.env, ...extraEnv }, stdio: ['ignore', out, out] });
    const entry = { name, proc, exit: null as string | null };
    proc.on('exit', (code, signal) => (entry.exit = signal ?? String(code)));
    this.children.push(entry);
    return entry;
  }

  /** node:http, not fetch: loading fetch (undici) costs the starting services a third of a second of CPU. */
  private ready(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const req = httpGet(`http://127.0.0.1:${port}/health/ready`, { timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  /** Services first (they drain the bus), then the servers they used. */
  async stop(): Promise<void> {
    const services = this.children.filter((c) => c.name !== 'nats-server');
    await Promise.all(services.map((c) => this.terminate(c)));
    await this.database.catch(() => undefined);
    if (this.pg) await this.pg.stop();
    await Promise.all(this.children.filter((c) => c.name === 'nats-server').map((c) => this.terminate(c)));
  }

  private terminate(c: { proc: ChildProcess; exit: string | null }): Promise<void> {
    if (c.exit !== null) return Promise.resolve();
    return new Promise((done) => {
      const kill = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
      c.proc.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      c.proc.kill('SIGTERM');
    });
  }
}
