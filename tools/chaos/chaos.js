#!/usr/bin/env node
'use strict';
/**
 * Chaos trials for Trainyard (issue 13).
 *
 *   npm run build && npm run chaos -- --trials N [--seed S] [--jobs 50] [--keep]
 *
 * Each trial starts its OWN PostgreSQL cluster (initdb + pg_ctl in a temp dir, on a free port) and its
 * OWN nats-server (JetStream, temp store dir, free port), never the machine's shared servers; then the
 * services as separate processes: two replicas each of scheduler, gpu-broker, promoter and notifier
 * (the notifier without a Telegram token, so it writes its messages to its log and its table), and two
 * trainer-agents with CPU slots and the built-in trainer on synthetic candles. It requests one run of
 * `--jobs` symbols through the scheduler's REST API and, at seeded random moments while the run is in
 * progress, kill -9s a random service process (and restarts it), restarts PostgreSQL with
 * `pg_ctl restart -m immediate`, or kill -9s nats-server and restarts it on the same port and store.
 * When the run has completed and the system is quiet, it checks the databases and the bus.
 *
 * Plain CommonJS on purpose: it needs only `npm run build` (the services' dist folders, and
 * @trainyard/testing's dist for reading the stream), no compile step of its own.
 */
const { spawn } = require('node:child_process');
const { chmodSync, mkdtempSync, mkdirSync, openSync, closeSync, rmSync, existsSync, appendFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '../..');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const out = { trials: 1, seed: null, jobs: 50, keep: false, faultEveryMin: 4, faultEveryMax: 12, runDeadlineMin: 20, natsCluster: false, vast: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--trials') out.trials = Number(next());
    else if (a === '--seed') out.seed = Number(next());
    else if (a === '--jobs') out.jobs = Number(next());
    else if (a === '--keep') out.keep = true;
    else if (a === '--nats-cluster') out.natsCluster = true;
    else if (a === '--vast') out.vast = true;
    else if (a === '--fault-every') {
      const [lo, hi] = next().split('-').map(Number);
      out.faultEveryMin = lo;
      out.faultEveryMax = hi ?? lo;
    } else if (a === '--deadline-minutes') out.runDeadlineMin = Number(next());
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run chaos -- --trials N [--seed S] [--jobs 50] [--nats-cluster] [--vast] [--fault-every 4-12] [--deadline-minutes 20] [--keep]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(out.trials) || out.trials < 1) throw new Error('--trials must be a positive integer');
  if (out.seed !== null && !Number.isInteger(out.seed)) throw new Error('--seed must be an integer');
  if (!Number.isInteger(out.jobs) || out.jobs < 1 || out.jobs > 900) throw new Error('--jobs must be 1..900');
  return out;
}

// ---------------------------------------------------------------- helpers

/** The agent's seeded PRNG (mulberry32), so a trial's fault schedule replays from its seed; chaos runs after npm run build. */
const prng = (seed) => require('../../apps/trainer-agent/dist/training/random.js').mulberry32(seed);

const { sleep, waitFor, freePorts } = require('../harness');
const { OwnPostgres } = require('../own-postgres');
const { serviceNodeArgs } = require('@trainyard/config');

// ---------------------------------------------------------------- processes

class Proc {
  constructor(name, command, args, env, logFile) {
    Object.assign(this, { name, command, args, env, logFile });
    this.child = null;
    this.exited = true;
  }

  start() {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(this.command, this.args, { cwd: ROOT, env: this.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    this.exited = false;
    this.exitPromise = new Promise((done) =>
      child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitInfo = signal ?? String(code);
        done();
      }),
    );
  }

  async kill9() {
    if (!this.child || this.exited) return;
    this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  async terminate(graceMs = 8000) {
    if (!this.child || this.exited) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child && !this.exited && this.child.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(t);
  }
}

async function httpReady(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- one trial

/** What to stop if this process is interrupted: the current trial's servers and services. */
const cleanups = new Set();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const c of cleanups) c();
    process.exit(130);
  });
}
process.on('uncaughtException', (e) => {
  console.error(`chaos runner crashed: ${e.stack || e.message}`);
  for (const c of cleanups) c();
  process.exit(2);
});

const SERVICE_KINDS = ['scheduler', 'gpu-broker', 'promoter', 'notifier', 'trainer-agent'];

async function trial(index, seed, opts) {
  const rand = prng(seed);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `trainyard-chaos-${seed}-`));
  chmodSync(dir, 0o755); // the postgres user runs the throwaway cluster inside it
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const faultLog = join(dir, 'faults.log');
  const note = (line) => appendFileSync(faultLog, `${new Date().toISOString()} ${line}\n`);
  const say = (line) => console.log(`[trial ${index} seed ${seed}] ${line}`);

  const natsNodes = opts.natsCluster ? 3 : 1;
  const ports = await freePorts(1 + 2 * natsNodes + 10);
  const pgPort = ports[0];
  const natsPorts = ports.slice(1, 1 + natsNodes);
  const routePorts = ports.slice(1 + natsNodes, 1 + 2 * natsNodes);
  const svcPorts = ports.slice(1 + 2 * natsNodes);
  const natsUrl = natsPorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const prefix = `chaos${seed.toString(36)}`.toLowerCase();
  const apiToken = `chaos-operator-${require('node:crypto').randomBytes(12).toString('hex')}`;
  const counts = { kills: Object.fromEntries(SERVICE_KINDS.map((k) => [k, 0])), pgRestarts: 0, natsRestarts: 0 };
  const pg = new OwnPostgres(join(dir, 'pg'), pgPort, note);
  mkdirSync(pg.dir, { recursive: true });
  // One nats-server, or three joined by routes (each its own store), as a cluster is run in production.
  const nats = natsPorts.map((port, i) => {
    const store = join(dir, natsNodes > 1 ? `nats-${i + 1}` : 'nats');
    mkdirSync(store, { recursive: true });
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store];
    if (natsNodes > 1) {
      const routes = routePorts.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
      args.push('-n', `n${i + 1}`, '--cluster_name', 'chaos', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes.join(','));
    }
    const name = natsNodes > 1 ? `nats-server-${i + 1}` : 'nats-server';
    const proc = new Proc(name, require('@trainyard/testing').natsServerBinary(), args, process.env, join(logDir, `${name}.log`));
    proc.port = port;
    return proc;
  });
  const services = [];
  let vast = null;
  let result;
  cleanups.add(cleanupNow);
  function cleanupNow() {
    for (const s of [...services, ...nats]) if (s.child && !s.exited) s.child.kill('SIGKILL');
    if (vast) for (const i of vast.alive()) for (const p of vast.processes(i.id)) killQuietly(p.pid);
    pg.stop();
  }
  try {
    await pg.init();
    nats.forEach((n) => n.start());
    await Promise.all(nats.map((n) => waitFor(() => tcpAnswers(n.port), n.name, 20_000, 200)));
    await waitFor(() => jetStreamAnswers(natsUrl), 'JetStream to answer (a meta leader, on a cluster)', 60_000, 250);

    const artifactsDir = join(dir, 'artifacts');
    const common = {
      ...process.env,
      NATS_URL: natsUrl,
      NATS_STREAM_REPLICAS: String(natsNodes),
      TRAINYARD_PREFIX: prefix,
      DATABASE_URL: pg.url,
      DATABASE_POOL_SIZE: '5',
      ARTIFACTS_DIR: artifactsDir,
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      AGENT_NVIDIA_SMI: 'none',
      AGENT_CPU_SLOTS: '2',
      AGENT_HEARTBEAT_MS: '1000',
      AGENT_OUTCOME_RETRY_SECONDS: '120',
      SCHEDULER_TICK_MS: '500',
      SCHEDULER_RETRY_BASE_SECONDS: '1',
      SCHEDULER_MAX_RETRIES: '3',
      SCHEDULER_LOOKBACK_CANDLES: '1000',
      BROKER_TICK_MS: '500',
      BROKER_AGENT_SILENCE_SECONDS: '10',
      BUS_RETRY_BASE_MS: '200',
      BUS_ACK_WAIT_SECONDS: '5',
      NOTIFIER_DIGEST_SECONDS: '5',
      NOTIFIER_PROMOTION_WAIT_SECONDS: '10',
      TELEGRAM_BOT_TOKEN: '',
      API_OPERATOR_TOKENS: apiToken,
    };
    for (const k of ['TRAINYARD_BASE_PORT', 'VAST_API_KEY', 'S3_BUCKET', 'OTEL_EXPORTER_OTLP_ENDPOINT']) delete common[k];
    if (opts.vast) {
      // No local agent: every job runs on an instance the brokers rent from the Vast API test server,
      // whose instances are OpenSSH sshd in namespaces of their own (so: root only).
      const { startVastTestServer } = require('@trainyard/testing');
      vast = await startVastTestServer({ loadingMs: 200, offers: VAST_OFFERS });
      Object.assign(common, {
        VAST_API_KEY: vast.apiKey,
        VAST_API_URL: vast.url,
        VAST_MAX_INSTANCES: '3',
        VAST_POLL_MS: '150',
        VAST_IDLE_SECONDS: '20',
        VAST_API_RETRY_BASE_MS: '20',
        VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=2,AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=1000,AGENT_OUTCOME_RETRY_SECONDS=120',
      });
    }
    const layout = [
      ['scheduler', 2],
      ['gpu-broker', 2],
      ['promoter', 2],
      ['notifier', 2],
      ['trainer-agent', opts.vast ? 0 : 2],
    ];
    let p = 0;
    for (const [kind, n] of layout) {
      for (let r = 1; r <= n; r++) {
        const name = `${kind}-${r}`;
        const port = svcPorts[p++];
        const dist = join(ROOT, 'apps', kind, 'dist');
        if (!existsSync(join(dist, 'main.js'))) throw new Error(`${kind} is not built: run npm run build first`);
        const env = { ...common, PORT: String(port), DATA_DIR: join(dir, 'state', name) };
        if (kind === 'trainer-agent') {
          env.AGENT_ID = `chaos-agent-${r}`;
          env.AGENT_WORK_DIR = join(dir, 'work', name);
        }
        const proc = new Proc(name, process.execPath, serviceNodeArgs(dist), env, join(logDir, `${name}.log`));
        proc.kind = kind;
        proc.port = port;
        services.push(proc);
      }
    }
    // Start one replica of each first (each migrates its schema), then the second ones.
    for (const wave of [1, 2]) {
      const batch = services.filter((s) => s.name.endsWith(`-${wave}`));
      batch.forEach((s) => s.start());
      await Promise.all(
        batch.map((s) =>
          waitFor(
            async () => {
              if (s.exited) throw new Error(`${s.name} exited (${s.exitInfo}); see ${s.logFile}`);
              return httpReady(s.port);
            },
            `${s.name} ready`,
            180_000,
            500,
          ),
        ),
      );
    }
    say(`stack up in ${Math.round((Date.now() - started) / 1000)} s (pg :${pgPort}, nats :${natsPorts.join(',')}, dir ${dir})`);

    // Request the run through a scheduler replica's REST API.
    const runId = `chaos-${seed}`;
    const symbols = Array.from({ length: opts.jobs }, (_, i) => `CHAOS${String(i + 1).padStart(3, '0')}USDT`);
    const schedulers = services.filter((s) => s.kind === 'scheduler');
    await waitFor(
      async () => {
        for (const s of schedulers) {
          try {
            const res = await fetch(`http://127.0.0.1:${s.port}/runs`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${apiToken}` },
              body: JSON.stringify({ runId, symbols, mode: 'parallel', maxConcurrent: 4, promote: 'auto', timeoutMinutes: 3, date: '2026-01-15' }),
              signal: AbortSignal.timeout(10_000),
            });
            if (res.status === 202 || res.status === 200 || res.status === 409) return true;
            const body = await res.text();
            if (res.status === 400) throw Object.assign(new Error(`POST /runs refused: ${body}`), { fatal: true });
            note(`POST /runs on ${s.name}: ${res.status} ${body}`);
          } catch (e) {
            if (e.fatal) throw e;
            note(`POST /runs on ${s.name}: ${e.message}`);
          }
        }
        return false;
      },
      'run request accepted',
      60_000,
      1000,
    );
    say(`run ${runId} of ${opts.jobs} jobs requested`);

    const runDone = async () => {
      try {
        const rows = await pgQuery(pg.url, `SELECT status FROM scheduler.runs WHERE id = $1`, [runId]);
        return rows.length > 0 && ['succeeded', 'failed', 'partial', 'cancelled'].includes(rows[0].status);
      } catch {
        return false;
      }
    };

    // Faults at seeded random moments until the run completes.
    const deadline = Date.now() + opts.runDeadlineMin * 60_000;
    let stopFaults = false;
    const faults = (async () => {
      while (!stopFaults && Date.now() < deadline) {
        const waitMs = (opts.faultEveryMin + rand() * (opts.faultEveryMax - opts.faultEveryMin)) * 1000;
        const until = Date.now() + waitMs;
        while (!stopFaults && Date.now() < until) await sleep(Math.min(250, until - Date.now()));
        if (stopFaults) break;
        const roll = rand();
        const rented = vast
          ? vast.alive().flatMap((i) =>
              vast
                .processes(i.id)
                .filter((p) => /main\.js/.test(p.cmdline))
                .map((p) => ({ instance: i.id, pid: p.pid })),
            )
          : [];
        if (roll < 0.7 && vast && rand() < 0.2 && rented.length) {
          // A rented agent dies; its broker notices the silence and its jobs are retried elsewhere.
          const agent = rented[Math.floor(rand() * rented.length)];
          note(`kill -9 the agent on instance ${agent.instance} (pid ${agent.pid})`);
          killQuietly(agent.pid);
          counts.kills['trainer-agent']++;
        } else if (roll < 0.7) {
          const victim = services[Math.floor(rand() * services.length)];
          const downMs = Math.floor(rand() * 3000);
          note(`kill -9 ${victim.name} (pid ${victim.child && victim.child.pid}), restart in ${downMs} ms`);
          await victim.kill9();
          counts.kills[victim.kind]++;
          await sleep(downMs);
          victim.start();
        } else if (roll < 0.85) {
          note('pg_ctl restart -m immediate');
          counts.pgRestarts++;
          await pg.restartImmediate();
          note('postgres back');
        } else {
          // On a cluster, one node at a time: the other two keep the quorum.
          const node = nats.length > 1 ? nats[Math.floor(rand() * nats.length)] : nats[0];
          const downMs = Math.floor(rand() * 3000);
          note(`kill -9 ${node.name} (pid ${node.child && node.child.pid}), restart in ${downMs} ms`);
          await node.kill9();
          counts.natsRestarts++;
          await sleep(downMs);
          node.start();
          await waitFor(() => tcpAnswers(node.port), `${node.name} back`, 30_000, 200);
          note(`${node.name} back`);
        }
      }
    })();

    let completed = false;
    try {
      await waitFor(runDone, `run ${runId} complete`, deadline - Date.now(), 1000);
      completed = true;
    } catch (e) {
      note(e.message);
    }
    stopFaults = true;
    await faults;
    // Every process back up (a restarted one may still be starting), then let the system go quiet.
    for (const s of services) if (s.exited) s.start();
    await Promise.all(services.map((s) => waitFor(() => httpReady(s.port), `${s.name} ready after faults`, 180_000, 500).catch((e) => note(e.message))));
    const quiet = async () => {
      const [leases, requests, notes, unregistered] = await Promise.all([
        pgQuery(pg.url, `SELECT count(*)::int AS n FROM broker.leases WHERE status IN ('assigned', 'running')`),
        pgQuery(pg.url, `SELECT count(*)::int AS n FROM broker.lease_requests WHERE status = 'pending'`),
        pgQuery(pg.url, `SELECT count(*)::int AS n FROM notifier.messages WHERE kind = 'run.completed' AND dedupe_key LIKE $1`, [`run.completed:${runId}:%`]),
        // The promoter registers a success once the scheduler's record counts it: eventually, after retries.
        pgQuery(
          pg.url,
          `SELECT count(*)::int AS n FROM scheduler.jobs j WHERE j.run_id = $1 AND j.status = 'succeeded'
             AND NOT EXISTS (SELECT 1 FROM promoter.model_versions v WHERE v.job_id = j.id AND NOT v.pre_fencing_duplicate)`,
          [runId],
        ),
      ]);
      return leases[0].n === 0 && requests[0].n === 0 && notes[0].n > 0 && unregistered[0].n === 0 && (!vast || vast.alive().length === 0);
    };
    if (completed) await waitFor(quiet, 'no active lease, no pending request, run reported', 180_000, 1000).catch((e) => note(e.message));
    else completed = await runDone();

    result = await check(pg.url, natsUrl, prefix, runId, opts.jobs);
    if (vast) {
      const alive = vast.alive();
      result.instances = vast.instances().length;
      if (alive.length) {
        result.problems.push(`${alive.length} instances alive on the Vast test server: ${alive.map((i) => i.id).join(', ')}`);
        result.leaked += alive.length;
      }
    }
    result.completed = completed;
    if (!completed) result.problems.unshift(`run not complete within ${opts.runDeadlineMin} min`);
  } catch (e) {
    result = { problems: [`trial error: ${e.stack || e.message}`], jobs: 0, succeeded: 0, failed: 0, lost: opts.jobs, duplicated: 0, leaked: 0, retries: 0 };
  } finally {
    await Promise.all(services.map((s) => s.terminate()));
    await Promise.all(nats.map((n) => n.terminate()));
    if (vast) await vast.close().catch((e) => note(`closing the Vast test server: ${e.message}`));
    pg.stop();
    cleanups.delete(cleanupNow);
  }
  result.seed = seed;
  result.seconds = Math.round((Date.now() - started) / 1000);
  Object.assign(result, counts);
  result.ok = result.problems.length === 0;
  result.dir = dir;
  if (result.ok && !opts.keep) rmSync(dir, { recursive: true, force: true });
  return result;
}

const VAST_OFFERS = [
  { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.35, dph_total: 0.36, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.4, dph_total: 0.41, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 3090', gpu_ram: 24576, dph_base: 0.2, dph_total: 0.21, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 3090', gpu_ram: 24576, dph_base: 0.22, dph_total: 0.23, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX A6000', gpu_ram: 49140, dph_base: 0.5, dph_total: 0.52, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'L40S', gpu_ram: 46068, dph_base: 0.7, dph_total: 0.72, storage_cost: 0.1, reliability: 0.99 },
];

function killQuietly(pid) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function tcpAnswers(port) {
  return new Promise((done) => {
    const s = require('node:net').connect({ host: '127.0.0.1', port }, () => {
      s.end();
      done(true);
    });
    s.on('error', () => done(false));
    s.setTimeout(1000, () => {
      s.destroy();
      done(false);
    });
  });
}

/** Whether JetStream answers an account info request: on a cluster, only once it has a meta leader. */
async function jetStreamAnswers(natsUrl) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await connect({ servers: natsUrl.split(','), reconnect: false, timeout: 2000 });
  try {
    await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
    return true;
  } finally {
    await nc.close();
  }
}

async function pgQuery(url, text, params = []) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000, query_timeout: 15000 });
  // A PostgreSQL restart (a fault) may end the connection at any moment: an error, never a crash.
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- the checks

async function check(dbUrl, natsUrl, prefix, runId, expectedJobs) {
  const problems = [];
  const q = (t, p) => pgQuery(dbUrl, t, p);
  const jobs = await q(`SELECT id, symbol, status, attempt, max_attempts FROM scheduler.jobs WHERE run_id = $1`, [runId]);
  const attempts = await q(`SELECT a.job_id, a.attempt, a.status, a.error_type, a.message FROM scheduler.attempts a JOIN scheduler.jobs j ON j.id = a.job_id WHERE j.run_id = $1`, [runId]);
  const versions = await q(`SELECT symbol, version, job_id, attempt, stage, pre_fencing_duplicate FROM promoter.model_versions`);
  const leases = await q(`SELECT id, job_id, attempt, status FROM broker.leases WHERE status IN ('assigned', 'running')`);
  const requests = await q(`SELECT job_id, attempt FROM broker.lease_requests WHERE status = 'pending'`);
  const reports = await q(`SELECT dedupe_key FROM notifier.messages WHERE kind = 'run.completed' AND dedupe_key LIKE $1`, [`run.completed:${runId}:%`]);

  // From the bus: what the stream holds for the run.
  process.env.TEST_NATS_URL = natsUrl;
  const { readStored } = require('@trainyard/testing');
  let completions = [];
  let succeededEvents = [];
  // A cluster whose node was just restarted may answer the first requests late: ask again before blaming the system.
  try {
    completions = (await waitFor(() => readStored(prefix, 'run.completed'), 'reading run.completed from the stream', 120_000, 2000)).filter((e) => e.data.runId === runId);
    succeededEvents = (await waitFor(() => readStored(prefix, 'job.succeeded'), 'reading job.succeeded from the stream', 120_000, 2000)).map((e) => e.data);
  } catch (e) {
    problems.push(`reading the stream: ${e.message}`);
  }

  const byJob = new Map(jobs.map((j) => [j.id, j]));
  const attemptsOf = (id) => attempts.filter((a) => a.job_id === id);
  const versionsOf = (id) => versions.filter((v) => v.job_id === id && !v.pre_fencing_duplicate);
  let lost = 0;
  let duplicated = 0;
  let succeeded = 0;
  let failed = 0;

  if (jobs.length !== expectedJobs) {
    problems.push(`${jobs.length} jobs in scheduler.jobs, expected ${expectedJobs}`);
    lost += Math.max(0, expectedJobs - jobs.length);
  }
  for (const j of jobs) {
    const okAttempts = attemptsOf(j.id).filter((a) => a.status === 'succeeded');
    const vs = versionsOf(j.id);
    if (j.status === 'succeeded') {
      succeeded++;
      if (okAttempts.length !== 1) {
        problems.push(`${j.id}: ${okAttempts.length} succeeded attempts`);
        if (okAttempts.length > 1) duplicated++;
        else lost++;
      }
      if (vs.length === 0) {
        problems.push(`${j.id}: succeeded but no registry version`);
        lost++;
      } else if (vs.length > 1) {
        problems.push(`${j.id}: ${vs.length} registry versions`);
        duplicated++;
      } else if (okAttempts.length === 1 && vs[0].attempt !== okAttempts[0].attempt) {
        problems.push(`${j.id}: registry version is of attempt ${vs[0].attempt}, the succeeded attempt is ${okAttempts[0].attempt}`);
        duplicated++;
      }
    } else if (j.status === 'failed') {
      failed++;
      const last = attemptsOf(j.id).find((a) => a.attempt === j.attempt);
      if (!last || !last.error_type || !last.message) {
        problems.push(`${j.id}: failed without a reason`);
        lost++;
      }
      if (vs.length > 0) {
        problems.push(`${j.id}: failed, but ${vs.length} registry version(s) (attempt ${vs.map((v) => v.attempt).join(',')})`);
        duplicated++;
      }
    } else {
      problems.push(`${j.id}: ends ${j.status} (attempt ${j.attempt})`);
      lost++;
    }
  }
  // Versions of this run's jobs that are not in the table of jobs (should not exist).
  const runVersions = versions.filter((v) => v.job_id.startsWith(`${runId}-`) && !v.pre_fencing_duplicate);
  for (const v of runVersions) if (!byJob.has(v.job_id)) problems.push(`version ${v.symbol} v${v.version}: unknown job ${v.job_id}`);
  // Production: at most one per symbol, and a version of a succeeded attempt.
  const prodBySymbol = new Map();
  for (const v of versions.filter((x) => x.stage === 'production')) prodBySymbol.set(v.symbol, [...(prodBySymbol.get(v.symbol) ?? []), v]);
  for (const [symbol, vs] of prodBySymbol) {
    if (vs.length > 1) {
      problems.push(`${symbol}: ${vs.length} production versions`);
      duplicated++;
    }
    for (const v of vs) {
      const a = attempts.find((x) => x.job_id === v.job_id && x.attempt === v.attempt);
      if (!a || a.status !== 'succeeded') {
        problems.push(`${symbol}: production v${v.version} is job ${v.job_id} attempt ${v.attempt}, which is ${a ? a.status : 'unknown'}`);
        duplicated++;
      }
    }
  }
  // Each succeeded job should have gone to production (first version of a new symbol, promote auto).
  const prodCount = prodBySymbol.size;

  const leaked = leases.length + requests.length;
  if (leases.length)
    problems.push(
      `${leases.length} active leases: ${leases
        .slice(0, 5)
        .map((l) => `${l.job_id}#${l.attempt}:${l.status}`)
        .join(', ')}`,
    );
  if (requests.length)
    problems.push(
      `${requests.length} pending lease requests: ${requests
        .slice(0, 5)
        .map((r) => `${r.job_id}#${r.attempt}`)
        .join(', ')}`,
    );
  if (reports.length !== 1) problems.push(`${reports.length} run.completed notifications (expected 1)`);
  const completionIds = new Set(completions.map((c) => c.data.id));
  if (completionIds.size !== 1) problems.push(`${completionIds.size} distinct run.completed events on the bus (expected 1)`);
  const succeededEventJobs = new Set(succeededEvents.filter((e) => e.runId === runId || (e.jobId || '').startsWith(`${runId}-`)).map((e) => e.jobId));
  const noEvent = jobs.filter((j) => j.status === 'succeeded' && !succeededEventJobs.has(j.id));
  if (noEvent.length)
    problems.push(
      `${noEvent.length} succeeded jobs with no job.succeeded on the bus: ${noEvent
        .slice(0, 3)
        .map((j) => j.id)
        .join(', ')}`,
    );

  return {
    problems,
    jobs: jobs.length,
    succeeded,
    failed,
    lost,
    duplicated,
    leaked,
    production: prodCount,
    versions: runVersions.length,
    retries: attempts.length - jobs.length,
    reports: reports.length,
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const baseSeed = opts.seed ?? Math.floor(Math.random() * 1e9);
  console.log(
    `chaos: ${opts.trials} trial(s), ${opts.jobs} jobs each, ${opts.natsCluster ? 'a 3-node NATS cluster (R3)' : 'one nats-server'}, ${opts.vast ? 'agents on instances rented from the Vast test server' : 'two local agents'}, base seed ${baseSeed}`,
  );
  const results = [];
  for (let i = 0; i < opts.trials; i++) {
    const seed = baseSeed + i;
    const r = await trial(i + 1, seed, opts);
    results.push(r);
    const k = r.kills;
    console.log(
      `[trial ${i + 1} seed ${seed}] ${r.ok ? 'PASS' : 'FAIL'} in ${r.seconds} s: jobs ${r.jobs} (succeeded ${r.succeeded}, failed ${r.failed}, retries ${r.retries}), ` +
        `kills sched ${k.scheduler} broker ${k['gpu-broker']} promoter ${k.promoter} notifier ${k.notifier} agent ${k['trainer-agent']}, ` +
        `PG restarts ${r.pgRestarts}, NATS restarts ${r.natsRestarts}, lost ${r.lost}, duplicated ${r.duplicated}, leaked ${r.leaked}` +
        (r.instances !== undefined ? `, instances rented ${r.instances}` : ''),
    );
    if (!r.ok) {
      for (const p of r.problems.slice(0, 20)) console.log(`    - ${p}`);
      console.log(`    logs kept in ${r.dir}; replay with: npm run chaos -- --trials 1 --seed ${seed}`);
    }
  }
  // The table.
  const cols = ['trial', 'seed', 'result', 'secs', 'sched', 'broker', 'promoter', 'notifier', 'agent', 'PG', 'NATS', 'jobs', 'ok', 'failed', 'retries', 'lost', 'dup', 'leaked'];
  console.log(`\n| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  results.forEach((r, i) => {
    const k = r.kills;
    console.log(
      `| ${[i + 1, r.seed, r.ok ? 'pass' : 'FAIL', r.seconds, k.scheduler, k['gpu-broker'], k.promoter, k.notifier, k['trainer-agent'], r.pgRestarts, r.natsRestarts, r.jobs, r.succeeded, r.failed, r.retries, r.lost, r.duplicated, r.leaked].join(' | ')} |`,
    );
  });
  const failing = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failing.length}/${results.length} trials passed${failing.length ? `; failing seeds: ${failing.map((r) => r.seed).join(', ')}` : ''}`);
  process.exit(failing.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e.stack || e.message);
  process.exit(2);
});
