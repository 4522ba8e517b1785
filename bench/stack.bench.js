#!/usr/bin/env node
'use strict';
/**
 * Stack benchmark (issue 14.1): the five services as separate processes, as `trainyard up` runs them,
 * once on a PostgreSQL cluster of its own (initdb + pg_ctl, as the chaos tool does) and once on the
 * embedded default (PGlite, inside the `trainyard up` process), each on a nats-server of its own. One
 * agent with 12 CPU slots runs a no-op command trainer: a `worker:` trainer that answers each job line
 * with a result line (`bench/noop-worker.js`), or with BENCH_STACK_TRAINER=noop a process per job
 * (/bin/echo of the result line). Measured:
 * - cold start: services spawned to all five ready (PostgreSQL), `trainyard up` spawned to up (PGlite);
 * - dispatch: job.requested to job.started as this process receives them from the bus, p50/p99, with a
 *   run of 1 at a time, one of 12 in flight back to back, and 12 arriving at once at an idle stack;
 *   each p50 split where job.leased and the agent's assign command reach the bus (the broker's part,
 *   and the agent's from its assignment to its job.started);
 * - per-job cost with the run's size: dispatch p50 and scheduler RSS peak for runs of each size in
 *   BENCH_STACK_SIZES (12 concurrent); throughput of the largest: jobs / (first job.requested to last
 *   job.succeeded);
 * - each service's RSS (/proc/<pid>/status VmRSS every 200 ms), idle and peak, and the PGlite host's;
 * - CPU time per job of each process over the largest run, less what it spends idle over as long
 *   (/proc/<pid>/stat of the process and its descendants, so PostgreSQL's backends count; the agent's
 *   trainer processes as `trainers`): it bounds the throughput the machine's cores allow, and depends
 *   far less than wall time on what else runs beside the bench;
 * - the times each process's threads slept waiting, per job (voluntary context switches of every
 *   thread): each ends in a wake-up, which on a VM costs more than the work a small message brings;
 * - on PostgreSQL, the SQL statements the services sent per job over each run (pg_stat_statements'
 *   top-level ones, each a round trip, BEGIN and COMMIT included, less the idle rate) and those run
 *   inside them, the time PostgreSQL spent planning and executing them, and the most called of them;
 * - the messages each service sent to NATS per job and those it was sent (the server's /connz);
 * - one CLI call (`trainyard models list`) against the running stack, median of 5.
 * As root (BENCH_STACK_VAST=0 skips it), a 100-symbol run on instances rented from the Vast API test
 * server: spend against one instance per job, wall time, time to first job on a rented and a warm one.
 * Also the release order's makespan for 200 varied jobs on 12 slots against fixed batches of 12 (the
 * old "hybrid" scripts), simulated as the scheduler bench does.
 *
 *   node bench/stack.bench.js            (after npm run build; also part of npm run bench)
 *   BENCH_STACK_SIZES=100,1000,5000 BENCH_STACK_DB=postgres BENCH_STACK_VAST=0 node bench/stack.bench.js
 *   BENCH_STACK_DB=none node bench/stack.bench.js      (the Vast run only)
 *   BENCH_STACK_TRAINER=noop …                (a trainer process per job instead of a worker)
 *   BENCH_STACK_SQL_TOP=50 …                  (print the 50 most called SQL statements, not 8)
 *   BENCH_STACK_TRIALS=5 …                    (the largest run 5 times, not 3: its CPU, wake-ups, statements and throughput are medians)
 *   BENCH_STACK_PROF=1 BENCH_STACK_KEEP=1 …   (on PostgreSQL each service writes a V8 CPU profile, node --cpu-prof, into <dir>/prof)
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { cpus, loadavg, tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { freePorts, runAsScript, sleep, waitFor } = require('../tools/harness');
const { OwnPostgres } = require('../tools/own-postgres');
const { natsServerEnv, serviceNodeArgs } = require('@trainyard/config');

const ROOT = resolve(__dirname, '..');
const SIZES = (process.env.BENCH_STACK_SIZES || '100,1000').split(',').map(Number);
// Identical runs of the largest size differed by 15–20% in CPU and throughput on a shared VM: one trial says little.
const TRIALS = Math.max(1, Number(process.env.BENCH_STACK_TRIALS || 3));
// BENCH_STACK_DB=none runs neither (the Vast run only).
const BACKENDS = (process.env.BENCH_STACK_DB || 'postgres,pglite').split(',').filter((b) => b === 'postgres' || b === 'pglite');
const SLOTS = 12;
const SERVICES = ['scheduler', 'gpu-broker', 'trainer-agent', 'promoter', 'notifier'];
/** The name each service gives its NATS connection. */
const BUS_NAMES = { scheduler: 'scheduler', broker: 'gpu-broker', agent: 'trainer-agent', promoter: 'promoter', notifier: 'notifier' };
const METRICS = { directionalHitRate: 0.5, sharpe: 1, maxDrawdown: 0.1, totalReturn: 0.01, mae: 0, rmse: 0, mape: 0, r2: 0 };
// Words are split on whitespace and no shell reads them: the JSON has no spaces.
const RESULT_LINE = JSON.stringify({ type: 'result', metrics: METRICS });
// The worker reads its input in blocks: `sed -u` read a byte per system call, about 460 a job.
const NOOP_TRAINERS = `noop=/bin/echo ${RESULT_LINE}; worker:noop-worker=${process.execPath} ${join(__dirname, 'noop-worker.js')} ${RESULT_LINE}`;
/** The agent's trainer processes are counted apart from the agent. */
const TRAINERS_CPU = 'trainers';
const TRAINER = process.env.BENCH_STACK_TRAINER || 'noop-worker';
if (!['noop', 'noop-worker'].includes(TRAINER)) throw new Error(`BENCH_STACK_TRAINER: noop or noop-worker, not ${TRAINER}`);
const TOKEN = `bench-${require('node:crypto').randomBytes(8).toString('hex')}`;

const load = () => loadavg()[0].toFixed(2);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const r1 = (x) => Math.round(x * 10) / 10;

// ---------------------------------------------------------------- servers (as tools/chaos/chaos.js)

function startProcess(command, args, env, logFile) {
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.exitInfo = null;
  child.once('exit', (code, signal) => (child.exitInfo = signal ?? String(code)));
  return child;
}

async function stopProcess(child) {
  if (!child || child.exitInfo !== null) return;
  const gone = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

async function ready(port) {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- RSS sampling

/** VmRSS of each named pid every 200 ms; each phase keeps its peak and mean per name. */
class RssSampler {
  constructor() {
    this.pids = new Map();
    this.phases = new Map();
    this.phase = null;
    this.timer = setInterval(() => this.sample(), 200);
  }
  track(name, pid) {
    this.pids.set(name, pid);
  }
  begin(phase) {
    this.phase = phase;
    this.phases.set(phase, new Map());
    this.sample();
  }
  sample() {
    if (!this.phase) return;
    const stats = this.phases.get(this.phase);
    for (const [name, pid] of this.pids) {
      let kb;
      try {
        kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
      } catch {
        continue;
      }
      const s = stats.get(name) ?? { peak: 0, sum: 0, n: 0 };
      s.peak = Math.max(s.peak, kb);
      s.sum += kb;
      s.n++;
      stats.set(name, s);
    }
  }
  /** { name: { peakMb, meanMb, samples } } of a phase. */
  of(phase) {
    const out = {};
    for (const [name, s] of this.phases.get(phase) ?? []) out[name] = { peakMb: r1(s.peak / 1024), meanMb: r1(s.sum / s.n / 1024), samples: s.n };
    return out;
  }
  stop() {
    clearInterval(this.timer);
  }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** pid → { ppid, ticks }: user and system time of each live process and of its reaped children. */
function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the command name, which may hold spaces: state, ppid, … utime (14), stime, cutime, cstime.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Its own time, and its reaped children's (cutime, cstime).
    table.set(Number(entry), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) });
  }
  return table;
}

/** Times a process's threads went to sleep waiting (each ends in a wake-up: on this VM the dearest part of a message). */
function sleepsOf(pid) {
  let n = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    }
  } catch {
    // gone meanwhile
  }
  return n;
}

/**
 * CPU seconds of each named process: with its descendants (`tree`), or alone (the PGlite host, whose
 * children are the services); with `childrenAs`, its descendants (the agent's trainers) under a name of their own.
 */
class CpuMeter {
  constructor() {
    this.tracked = new Map();
  }
  track(name, pid, tree = true, childrenAs = undefined) {
    this.tracked.set(name, { pid, tree, childrenAs });
  }
  read() {
    const table = processTable();
    const children = childrenOf(table);
    const below = (pid) => (table.get(pid)?.reaped ?? 0) + (children.get(pid) ?? []).reduce((n, c) => n + (table.get(c)?.own ?? 0) + below(c), 0);
    return this.each(
      (pid) => (table.get(pid)?.own ?? 0) / CLOCK_TICKS,
      (pid) => below(pid) / CLOCK_TICKS,
    );
  }
  /** Sleeps of each named process's threads, counted as read() counts CPU; exited descendants' are not counted. */
  sleeps() {
    const children = childrenOf(processTable());
    const below = (pid) => (children.get(pid) ?? []).reduce((n, c) => n + sleepsOf(c) + below(c), 0);
    return this.each(sleepsOf, below);
  }
  each(own, below) {
    const out = {};
    for (const [name, { pid, tree, childrenAs }] of this.tracked) {
      if (childrenAs) {
        out[name] = own(pid);
        out[childrenAs] = below(pid);
      } else out[name] = own(pid) + (tree ? below(pid) : 0);
    }
    return out;
  }
}

function childrenOf(table) {
  const children = new Map();
  for (const [pid, p] of table) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  return children;
}

// ---------------------------------------------------------------- the bus, as this process sees it

/** Receipt times of job.requested, job.leased, job.started and job.succeeded, per job, on a plain subscription. */
async function watchBus(natsUrl, prefix) {
  const { connect } = require('@nats-io/transport-node');
  const nc = await connect({ servers: natsUrl });
  const jobs = new Map();
  const failures = [];
  const at = (id) => jobs.get(id) ?? jobs.set(id, {}).get(id);
  nc.subscribe(`${prefix}.job.*`, {
    callback: (_e, msg) => {
      const now = performance.now();
      const kind = msg.subject.slice(prefix.length + 5);
      if (kind !== 'requested' && kind !== 'leased' && kind !== 'started' && kind !== 'succeeded' && kind !== 'failed') return;
      const m = JSON.parse(msg.string());
      const jobId = m.spec?.jobId ?? m.jobId;
      if (kind === 'failed') return void failures.push(`${jobId}: ${m.errorType} ${m.message}`);
      // The first of each: a redelivered or repeated request is not a new dispatch.
      at(jobId)[kind] ??= now;
      if (kind === 'started') at(jobId).agentId ??= m.agentId;
    },
  });
  // When the assign command reached the bus: leased to started splits into the broker's announcing and the agent's part.
  nc.subscribe(`${prefix}.agent.*.assign`, {
    callback: (_e, msg) => {
      const now = performance.now();
      at(JSON.parse(msg.string()).spec.jobId).assigned ??= now;
    },
  });
  // Rented instances (the Vast run): created, ready (with its agent) and destroyed (with its cost).
  const instances = new Map();
  nc.subscribe(`${prefix}.instance.*`, {
    callback: (_e, msg) => {
      const kind = msg.subject.slice(prefix.length + 10);
      if (kind !== 'created' && kind !== 'ready' && kind !== 'destroyed') return;
      const m = JSON.parse(msg.string());
      const i = instances.get(m.instanceId) ?? instances.set(m.instanceId, {}).get(m.instanceId);
      i[kind] = { at: performance.now(), ...m };
    },
  });
  // A run's end and its models' registrations: the per-job work after the last job.succeeded.
  const completed = new Set();
  const registered = new Map();
  nc.subscribe(`${prefix}.run.completed`, { callback: (_e, msg) => completed.add(JSON.parse(msg.string()).runId) });
  nc.subscribe(`${prefix}.model.registered`, {
    callback: (_e, msg) => {
      const { runId } = JSON.parse(msg.string());
      registered.set(runId, (registered.get(runId) ?? 0) + 1);
    },
  });
  await nc.flush();
  return { jobs, failures, instances, completed, registered, close: () => nc.close() };
}

// ---------------------------------------------------------------- stacks

function serviceEnv(extra) {
  const env = {
    ...process.env,
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    OTEL_SDK_DISABLED: 'true',
    AGENT_NVIDIA_SMI: 'none',
    AGENT_CPU_SLOTS: String(SLOTS),
    AGENT_TRAINERS: NOOP_TRAINERS,
    API_OPERATOR_TOKENS: TOKEN,
    TELEGRAM_BOT_TOKEN: '',
    ...extra,
  };
  for (const k of ['DATABASE_URL', 'TRAINYARD_BASE_PORT', 'VAST_API_KEY', 'S3_BUCKET', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'SCHEDULER_URL', 'PROMOTER_URL']) if (!(k in extra)) delete env[k];
  return env;
}

async function startNats(dir, port) {
  const store = join(dir, 'nats');
  mkdirSync(store, { recursive: true });
  const [monitor] = await freePorts(1);
  const child = startProcess(
    require('@trainyard/testing').natsServerBinary(),
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-sd', store],
    { ...process.env, ...natsServerEnv(process.env) },
    join(dir, 'logs', 'nats-server.log'),
  );
  await waitFor(() => tcpOpen(port), 'nats-server', 20_000, 100);
  /** Messages each named connection has sent (publishes, acks, pull requests) and been sent, from the server's /connz. */
  child.messages = async () => {
    const { connections } = await (await fetch(`http://127.0.0.1:${monitor}/connz?limit=1024`)).json();
    const by = {};
    for (const c of connections) {
      const n = (by[c.name || 'unnamed'] ??= { sent: 0, received: 0 });
      n.sent += c.in_msgs;
      n.received += c.out_msgs;
    }
    return by;
  };
  return child;
}

const tcpOpen = (port) =>
  new Promise((done) => {
    const s = require('node:net').connect(port, '127.0.0.1', () => (s.end(), done(true)));
    s.on('error', () => done(false));
  });

/** The five services as separate processes on PostgreSQL; cold start is spawn to all five ready. */
async function postgresStack(dir, sampler, extraEnv = {}, services = SERVICES) {
  // PostgreSQL, NATS, then the services' five ports in SERVICES order.
  const [pgPort, natsPort, base] = await freePorts(7);
  // Every statement counted (pg_stat_statements, BEGIN and COMMIT included): how many a job costs, and which;
  // those a service sent (top level, each a round trip) apart from those run inside them (functions, foreign-key checks).
  const pg = new OwnPostgres(join(dir, 'pg'), pgPort, () => undefined, {
    settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all', 'pg_stat_statements.track_planning': 'on' },
  });
  mkdirSync(pg.dir, { recursive: true });
  await pg.init();
  pg.sql('CREATE EXTENSION pg_stat_statements');
  const nats = await startNats(dir, natsPort);
  const prefix = 'benchpg';
  const env = serviceEnv({
    NATS_URL: `nats://127.0.0.1:${natsPort}`,
    TRAINYARD_PREFIX: prefix,
    DATABASE_URL: pg.url,
    ARTIFACTS_DIR: join(dir, 'artifacts'),
    HOST: '127.0.0.1',
    ...extraEnv,
  });
  const cpu = new CpuMeter();
  cpu.track('postgres', Number(readFileSync(join(pg.data, 'postmaster.pid'), 'utf8').split('\n')[0]));
  cpu.track('nats-server', nats.pid);
  const t0 = performance.now();
  const children = services.map((name) => {
    const i = SERVICES.indexOf(name);
    const dist = join(ROOT, 'apps', name, 'dist');
    const e = { ...env, PORT: String(base + i), DATA_DIR: join(dir, 'state', name), AGENT_ID: 'bench-agent', AGENT_WORK_DIR: join(dir, 'work') };
    const child = startProcess(process.execPath, [...profiling(dir), ...serviceNodeArgs(dist)], e, join(dir, 'logs', `${name}.log`));
    sampler.track(name, child.pid);
    cpu.track(name, child.pid, true, name === 'trainer-agent' ? TRAINERS_CPU : undefined);
    return child;
  });
  await Promise.all(
    services.map((name, c) =>
      waitFor(
        async () => {
          if (children[c].exitInfo !== null) throw Object.assign(new Error(`${name} exited (${children[c].exitInfo}); see ${join(dir, 'logs', `${name}.log`)}`), { fatal: true });
          return ready(base + SERVICES.indexOf(name));
        },
        `${name} ready`,
        300_000,
        100,
      ),
    ),
  );
  const coldStartMs = performance.now() - t0;
  return {
    prefix,
    natsUrl: env.NATS_URL,
    schedulerUrl: `http://127.0.0.1:${base}`,
    promoterUrl: `http://127.0.0.1:${base + 3}`,
    coldStartMs,
    coldStartWhat: 'services spawned to all five ready',
    cpu,
    natsMessages: nats.messages,
    statements: {
      reset: () => pg.sql('SELECT pg_stat_statements_reset()'),
      /** Calls of each statement since the reset, most called first (this read and the reset excluded). */
      read: () =>
        pg
          .sql(
            `SELECT calls, round((total_plan_time)::numeric, 1) AS plan, round(total_exec_time::numeric, 1) AS exec, toplevel, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC`,
          )
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [calls, plan, exec, toplevel, ...rest] = line.split('|');
            return { calls: Number(calls), plan: Number(plan), exec: Number(exec), toplevel: toplevel === 't', query: rest.join('|') };
          }),
    },
    stop: async () => {
      await Promise.all(children.map(stopProcess));
      await stopProcess(nats);
      pg.stop();
    },
  };
}

/** `trainyard up` with no DATABASE_URL: PGlite inside the launcher, the services its children. */
async function pgliteStack(dir, sampler) {
  const [natsPort, base] = await freePorts(6);
  const nats = await startNats(dir, natsPort);
  const prefix = 'benchlite';
  const env = serviceEnv({
    NATS_URL: `nats://127.0.0.1:${natsPort}`,
    TRAINYARD_PREFIX: prefix,
    TRAINYARD_BASE_PORT: String(base),
    DATA_DIR: join(dir, 'state'),
    AGENT_ID: 'bench-agent',
  });
  const cpu = new CpuMeter();
  cpu.track('nats-server', nats.pid);
  mkdirSync(join(dir, 'state'), { recursive: true });
  const t0 = performance.now();
  const up = startProcess(process.execPath, [join(ROOT, 'tools/cli/bin/trainyard.js'), 'up'], env, join(dir, 'logs', 'trainyard-up.log'));
  sampler.track('pglite-host (trainyard up)', up.pid);
  cpu.track('pglite-host (trainyard up)', up.pid, false);
  await waitFor(
    async () => {
      if (up.exitInfo !== null) throw Object.assign(new Error(`trainyard up exited (${up.exitInfo}); see ${join(dir, 'logs', 'trainyard-up.log')}`), { fatal: true });
      return readFileSync(join(dir, 'logs', 'trainyard-up.log'), 'utf8').includes('Trainyard is up');
    },
    'trainyard up',
    300_000,
    100,
  );
  const coldStartMs = performance.now() - t0;
  for (const line of execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(up.pid)], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\d+)\s.*apps\/([a-z-]+)\/dist\/main\.js/.exec(line);
    if (!m) continue;
    sampler.track(m[2], Number(m[1]));
    cpu.track(m[2], Number(m[1]), true, m[2] === 'trainer-agent' ? TRAINERS_CPU : undefined);
  }
  return {
    prefix,
    natsUrl: env.NATS_URL,
    schedulerUrl: `http://127.0.0.1:${base}`,
    promoterUrl: `http://127.0.0.1:${base + 3}`,
    coldStartMs,
    coldStartWhat: '`trainyard up` spawned to up (PGlite start, migrations, five services ready)',
    cpu,
    natsMessages: nats.messages,
    stop: async () => {
      await stopProcess(up);
      await stopProcess(nats);
    },
  };
}

// ---------------------------------------------------------------- runs

let runSeq = 0;

/** Calls of the statements the services sent (top level: each a round trip), or of those run inside them. */
const callsOf = (statements, toplevel = true) => statements.filter((s) => s.toplevel === toplevel).reduce((n, s) => n + s.calls, 0);

/** One run of `count` no-op jobs, `concurrent` at a time; resolves when each job succeeded. */
async function timedRun(stack, bus, count, concurrent) {
  const runId = `bench-${++runSeq}-${count}x${concurrent}`;
  // Symbols of their own per run, so no job is taken for an earlier run's identical training.
  const symbols = Array.from({ length: count }, (_, i) => `R${runSeq}S${i}USDT`);
  const res = await fetch(`${stack.schedulerUrl}/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ runId, symbols, mode: 'parallel', maxConcurrent: concurrent, driver: { kind: 'command', trainer: TRAINER }, gpuMemoryGb: 0, lookbackCandles: 200, date: '2026-01-15' }),
  });
  if (res.status !== 202 && res.status !== 200) throw new Error(`POST /runs: ${res.status} ${await res.text()}`);
  const mine = () => [...bus.jobs].filter(([id]) => id.startsWith(`${runId}-`)).map(([, t]) => t);
  const deadline = 60_000 + count * 1000;
  await waitFor(
    () => {
      if (bus.failures.length) throw Object.assign(new Error(`jobs failed: ${bus.failures.slice(0, 3).join('; ')}`), { fatal: true });
      return mine().filter((t) => t.succeeded).length >= count;
    },
    `${runId}: ${count} jobs succeeded`,
    deadline,
    200,
  );
  const ts = mine();
  const first = Math.min(...ts.map((t) => t.requested));
  const last = Math.max(...ts.map((t) => t.succeeded));
  return {
    runId,
    ts,
    jobs: count,
    concurrent,
    ...dispatchOf(ts),
    seconds: (last - first) / 1000,
    jobsPerSecond: count / ((last - first) / 1000),
  };
}

function dispatchOf(ts) {
  const dispatch = ts.map((t) => t.started - t.requested);
  // Where a dispatch waits: in the broker (requested to leased) or on the way to and in the agent (leased to started).
  const leased = ts.filter((t) => t.leased !== undefined);
  return {
    dispatchP50: pct(dispatch, 50),
    dispatchP99: pct(dispatch, 99),
    brokerP50: pct(
      leased.map((t) => t.leased - t.requested),
      50,
    ),
    agentP50: pct(
      leased.map((t) => t.started - t.leased),
      50,
    ),
    assignP50: pct(
      ts.filter((t) => t.assigned !== undefined).map((t) => t.started - t.assigned),
      50,
    ),
  };
}

/**
 * Runs of 12 jobs on 12 slots, one after the other: each time 12 requests arrive at once at a stack
 * with nothing else to do, as a run's first release does. (The 120-job run keeps 12 no-op jobs in
 * flight back to back, so the stack is never idle there and its dispatch is bound by throughput.)
 */
async function burstRuns(stack, bus, times) {
  const ts = [];
  for (let i = 0; i < times; i++) {
    // The last run's registrations and summary done with, so the stack is idle again.
    await sleep(1000);
    ts.push(...(await timedRun(stack, bus, SLOTS, SLOTS)).ts);
  }
  return { jobs: ts.length, ...dispatchOf(ts) };
}

function cliCall(stack) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [join(ROOT, 'tools/cli/bin/trainyard.js'), 'models', 'list'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, PROMOTER_URL: stack.promoterUrl, SCHEDULER_URL: stack.schedulerUrl, TRAINYARD_API_TOKEN: TOKEN },
    });
    if (r.status !== 0) throw new Error(`trainyard models list: ${r.stderr || r.stdout}`);
    times.push(performance.now() - t);
  }
  return times;
}

async function benchBackend(backend) {
  const dir = mkdtempSync(join(tmpdir(), `trainyard-bench-${backend}-`));
  chmodSync(dir, 0o755); // the postgres user runs the cluster inside it
  mkdirSync(join(dir, 'logs'));
  const sampler = new RssSampler();
  const out = { backend, loadAtStart: load() };
  let stack;
  try {
    sampler.begin('start');
    stack = await (backend === 'postgres' ? postgresStack : pgliteStack)(dir, sampler);
    out.coldStart = { ms: Math.round(stack.coldStartMs), what: stack.coldStartWhat, load: load() };
    const bus = await watchBus(stack.natsUrl, stack.prefix);
    try {
      // Settle, then idle for 5 s.
      await sleep(2000);
      sampler.begin('idle');
      stack.statements?.reset();
      const idleFrom = { at: performance.now(), cpu: stack.cpu.read() };
      await sleep(5000);
      const idleStatementsPerSecond = stack.statements ? callsOf(stack.statements.read()) / ((performance.now() - idleFrom.at) / 1000) : 0;
      out.rssIdle = sampler.of('idle');
      // What each process spends with nothing to do (timers, heartbeats, polls), per second: charged to a run by its length, not by its jobs.
      const idleTo = stack.cpu.read();
      const idlePerSecond = Object.fromEntries(Object.keys(idleTo).map((name) => [name, (idleTo[name] - idleFrom.cpu[name]) / ((performance.now() - idleFrom.at) / 1000)]));
      out.cpuIdleMsPerSecond = Object.fromEntries(Object.entries(idlePerSecond).map(([name, s]) => [name, r1(s * 1000)]));
      const cli = cliCall(stack);
      out.cli = { medianMs: Math.round(pct(cli, 50)), trials: cli.map(Math.round), load: load() };
      // A warm-up run, so first-use costs (connections, JIT) are not counted as dispatch.
      await timedRun(stack, bus, 12, SLOTS);
      sampler.begin('dispatch');
      out.dispatch1 = { ...(await timedRun(stack, bus, 30, 1)), load: load() };
      out.dispatch12 = { ...(await timedRun(stack, bus, 120, SLOTS)), load: load() };
      out.burst12 = { ...(await burstRuns(stack, bus, 10)), load: load() };
      out.scale = [];
      out.trials = [];
      const runs = SIZES.flatMap((size, i) =>
        i === SIZES.length - 1 ? Array.from({ length: TRIALS }, (_, t) => ({ size, phase: t ? `scale-${size}-${t + 1}` : `scale-${size}` })) : [{ size, phase: `scale-${size}` }],
      );
      for (const { size, phase } of runs) {
        sampler.begin(phase);
        stack.statements?.reset();
        const cpuBefore = stack.cpu.read();
        const sleepsBefore = stack.cpu.sleeps();
        const messagesBefore = await stack.natsMessages();
        const r = await timedRun(stack, bus, size, SLOTS);
        // Counted once the run is closed and every model registered, so the scheduler's and the promoter's last jobs count too.
        await waitFor(() => bus.completed.has(r.runId) && (bus.registered.get(r.runId) ?? 0) >= size, `${r.runId} closed and its ${size} models registered`, 60_000, 100);
        const cpuAfter = stack.cpu.read();
        const sleepsAfter = stack.cpu.sleeps();
        const messagesAfter = await stack.natsMessages();
        // The bench's own connections (named or not) are left out; the services name theirs.
        const messagesPerJob = Object.fromEntries(
          Object.entries(messagesAfter)
            .filter(([name]) => BUS_NAMES[name])
            .map(([name, m]) => [BUS_NAMES[name], { sent: r1((m.sent - (messagesBefore[name]?.sent ?? 0)) / size), received: r1((m.received - (messagesBefore[name]?.received ?? 0)) / size) }]),
        );
        const cpuMsPerJob = Object.fromEntries(Object.keys(cpuAfter).map((name) => [name, r1((Math.max(0, cpuAfter[name] - cpuBefore[name] - idlePerSecond[name] * r.seconds) * 1000) / size)]));
        const sleepsPerJob = Object.fromEntries(Object.keys(sleepsAfter).map((name) => [name, r1((sleepsAfter[name] - sleepsBefore[name]) / size)]));
        const statements = stack.statements?.read();
        const sql = statements && {
          perJob: r1((callsOf(statements) - idleStatementsPerSecond * r.seconds) / size),
          nestedPerJob: r1(callsOf(statements, false) / size),
          top: statements
            .slice(0, Number(process.env.BENCH_STACK_SQL_TOP || 8))
            .map((s) => ({ perJob: Number((s.calls / size).toFixed(2)), planMs: Number((s.plan / size).toFixed(3)), execMs: Number((s.exec / size).toFixed(3)), query: s.query.slice(0, 100) })),
          // A top-level statement's times include those of the statements run inside it.
          planMsPerJob: r1(statements.filter((s) => s.toplevel).reduce((n, s) => n + s.plan, 0) / size),
          execMsPerJob: r1(statements.filter((s) => s.toplevel).reduce((n, s) => n + s.exec, 0) / size),
        };
        const measured = { ...r, rss: sampler.of(phase), cpuMsPerJob, sleepsPerJob, messagesPerJob, sql, load: load() };
        if (size === SIZES[SIZES.length - 1]) out.trials.push(measured);
        if (!out.scale.some((s) => s.jobs === size)) out.scale.push(measured);
        say(`${backend}: CPU ms per job ${JSON.stringify(cpuMsPerJob)}`);
        say(`${backend}: sleeps per job ${JSON.stringify(sleepsPerJob)}`);
        say(`${backend}: NATS messages per job ${JSON.stringify(messagesPerJob)}`);
        if (sql)
          say(
            `${backend}: SQL statements per job ${sql.perJob} sent, ${sql.nestedPerJob} run inside them (planning ${sql.planMsPerJob} ms, executing ${sql.execMsPerJob} ms a job); most called: ${sql.top.map((t) => `${t.perJob} × [plan ${t.planMs} exec ${t.execMs} ms] ${t.query}`).join(' | ')}`,
          );
        say(
          `${backend}: ${size} jobs in ${r.seconds.toFixed(1)} s (${r.jobsPerSecond.toFixed(1)}/s), dispatch p50 ${r.dispatchP50.toFixed(1)} ms (requested to leased ${r.brokerP50.toFixed(1)}, leased to started ${r.agentP50.toFixed(1)}), load ${load()}`,
        );
      }
      const peaks = {};
      for (const phase of ['idle', 'dispatch', ...runs.map((r) => r.phase)]) for (const [name, s] of Object.entries(sampler.of(phase))) peaks[name] = Math.max(peaks[name] ?? 0, s.peakMb);
      out.rssPeak = peaks;
    } finally {
      await bus.close();
    }
  } finally {
    sampler.stop();
    if (stack) await stack.stop();
    if (process.env.BENCH_STACK_KEEP) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const say = (line) => console.error(`[stack bench] ${line}`);

/** BENCH_STACK_PROF=1: each service of the PostgreSQL stack writes a V8 CPU profile when it exits (Node refuses --cpu-prof in NODE_OPTIONS). */
const profiling = (dir) => (process.env.BENCH_STACK_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`] : []);

// ---------------------------------------------------------------- a run on rented instances (the Vast API test server)

const VAST_SYMBOLS = 100;
const VAST_OFFERS = [
  { gpu_name: 'RTX 3090', gpu_ram: 24576, dph_base: 0.2, dph_total: 0.21, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 3090', gpu_ram: 24576, dph_base: 0.22, dph_total: 0.23, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.35, dph_total: 0.36, storage_cost: 0.1, reliability: 0.99 },
  { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.4, dph_total: 0.41, storage_cost: 0.1, reliability: 0.99 },
];

/**
 * 100 no-op jobs with no local agent: the broker rents instances from the Vast API test server (real
 * HTTP, each instance an OpenSSH sshd in namespaces of its own, so root only) and bootstraps an agent
 * on each over SSH. Instance spend is what the instances billed (instance.destroyed); one instance
 * per job is costed as each job paying a fresh instance's time to its first job plus its own time,
 * at the cheapest price rented, and its wall time as all of them rented at once.
 */
async function benchVast() {
  const dir = mkdtempSync(join(tmpdir(), 'trainyard-bench-vast-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'logs'));
  const { startVastTestServer } = require('@trainyard/testing');
  const vast = await startVastTestServer({ loadingMs: 200, offers: VAST_OFFERS });
  const sampler = new RssSampler();
  let stack;
  try {
    stack = await postgresStack(
      dir,
      sampler,
      {
        VAST_API_KEY: vast.apiKey,
        VAST_API_URL: vast.url,
        VAST_MAX_INSTANCES: '4',
        VAST_POLL_MS: '150',
        VAST_IDLE_SECONDS: '20',
        VAST_AGENT_ENV: `AGENT_CPU_SLOTS=${SLOTS},AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=1000`,
        VAST_AGENT_TRAINERS: NOOP_TRAINERS,
      },
      SERVICES.filter((s) => s !== 'trainer-agent'),
    );
    const bus = await watchBus(stack.natsUrl, stack.prefix);
    try {
      const run = await timedRun(stack, bus, VAST_SYMBOLS, VAST_SYMBOLS);
      // Then a run while the instances are still rented (idle for under VAST_IDLE_SECONDS): jobs on warm ones.
      const warmRun = await timedRun(stack, bus, SLOTS, SLOTS);
      await waitFor(() => vast.alive().length === 0 && [...bus.instances.values()].every((i) => i.destroyed), 'every instance destroyed', 180_000, 500);
      const byAgent = new Map([...bus.instances.values()].map((i) => [i.ready.agentId, i]));
      const cold = [];
      const firstOn = new Set();
      for (const t of [...run.ts].sort((a, b) => a.started - b.started)) {
        const inst = byAgent.get(t.agentId);
        if (inst && !firstOn.has(inst)) {
          firstOn.add(inst);
          cold.push(t.started - inst.created.at);
        }
      }
      const warm = warmRun.ts.map((t) => t.started - t.requested);
      const stages = bootstrapStages(join(dir, 'logs', 'gpu-broker.log'));
      // The 100-symbol run's share of each instance's bill (the warm run pays for its own lease time).
      const spend = [...bus.instances.values()].reduce((sum, i) => sum + i.destroyed.runs.filter((r) => r.runId === run.runId).reduce((s, r) => s + r.cost, 0), 0);
      const price = Math.min(...[...bus.instances.values()].map((i) => i.created.pricePerHour));
      const jobSeconds = run.ts.map((t) => (t.succeeded - t.started) / 1000);
      const coldSeconds = pct(cold, 50) / 1000;
      const perJobSpend = jobSeconds.reduce((sum, s) => sum + ((coldSeconds + s) * price) / 3600, 0);
      return {
        instances: bus.instances.size,
        spend,
        perJobSpend,
        wall: run.seconds,
        perJobWall: coldSeconds + Math.max(...jobSeconds),
        // A hundred instances start no faster than the slowest of these few: the same model at that cold start.
        perJobWallSlowest: Math.max(...cold) / 1000 + Math.max(...jobSeconds),
        coldP50: pct(cold, 50),
        warmP50: pct(warm, 50),
        warmP99: pct(warm, 99),
        cold: cold.length,
        stages,
        warm: warm.length,
        billed: vast.bill().total,
        load: load(),
      };
    } finally {
      await bus.close();
    }
  } finally {
    sampler.stop();
    if (stack) await stack.stop();
    for (const i of vast.alive()) for (const p of vast.processes(i.id)) process.kill(p.pid, 'SIGKILL');
    await vast.close();
    if (process.env.BENCH_STACK_KEEP) say(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** Each bootstrap stage's median over the broker's `instance_ready` lines, in seconds. */
function bootstrapStages(logFile) {
  const ready = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"instance_ready"'))
    .map((line) => JSON.parse(line));
  const stage = (key) => {
    const seconds = ready.map((r) => r[key]);
    return pct(seconds, 50);
  };
  return {
    count: ready.length,
    connect: stage('connectSeconds'),
    pack: stage('packSeconds'),
    copy: stage('copySeconds'),
    start: stage('startSeconds'),
    firstHeartbeat: stage('firstHeartbeatSeconds'),
  };
}

// ---------------------------------------------------------------- makespan: continuous release against fixed batches

/** The scheduler bench's workload: 200 log-normal train times around 5 minutes, seeded. */
function variedJobs() {
  let s = 42;
  const random = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: 200 }, (_, i) => {
    const normal = Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
    const seconds = Math.round(300 * Math.exp(0.8 * normal));
    return { symbol: `J${i}`, seconds, expectedSeconds: seconds, priorityRank: 2 };
  });
}

function makespans() {
  const { simulateMakespan, makespanLowerBound } = require('../apps/scheduler/dist/bench/release-simulation');
  const jobs = variedJobs();
  // The old scripts: the list in order, 12 at a time, each batch waiting for its longest job.
  let batches = 0;
  for (let i = 0; i < jobs.length; i += SLOTS) batches += Math.max(...jobs.slice(i, i + SLOTS).map((j) => j.seconds));
  return { release: simulateMakespan(jobs, SLOTS), bound: makespanLowerBound(jobs, SLOTS), batches };
}

// ---------------------------------------------------------------- results

async function runStackBench() {
  const started = Date.now();
  const results = {};
  const trialsNote = (n) => `${n} jobs`;
  for (const backend of BACKENDS) {
    say(`${backend}: starting (load ${load()})`);
    const b = await benchBackend(backend);
    const key = (k) => `stack_${backend}_${k}`;
    const onPg = backend === 'postgres';
    results[key('cold_start')] = { value: b.coldStart.ms, unit: `ms, ${b.coldStart.what}; 1 trial, load ${b.coldStart.load}`, target: 'reported' };
    for (const [name, d, what] of [
      ['1_concurrent', b.dispatch1, 'one at a time'],
      ['12_concurrent', b.dispatch12, '12 no-op jobs in flight back to back, so bound by throughput'],
      ['12_at_once', b.burst12, '12 arriving at once at an idle stack, 10 times'],
    ]) {
      results[key(`dispatch_p50_${name}`)] = {
        value: r1(d.dispatchP50),
        unit: `ms job.requested to job.started, ${what} (p50 requested to leased ${r1(d.brokerP50)}, leased to started ${r1(d.agentP50)}, assign to started ${r1(d.assignP50)}; ${trialsNote(d.jobs)}, load ${d.load})`,
        target: onPg ? '< 20' : 'reported',
      };
      results[key(`dispatch_p99_${name}`)] = { value: r1(d.dispatchP99), unit: `ms (${trialsNote(d.jobs)}, load ${d.load})`, target: onPg ? '< 100' : 'reported' };
    }
    for (const s of b.scale) {
      results[key(`scale_${s.jobs}_dispatch_p50`)] = {
        value: r1(s.dispatchP50),
        unit: `ms, ${SLOTS} concurrent (${trialsNote(s.jobs)}, load ${s.load})`,
        target: `within 2x of the ${SIZES[0]}-job run`,
      };
      results[key(`scale_${s.jobs}_scheduler_rss_peak`)] = { value: s.rss.scheduler?.peakMb ?? NaN, unit: `MB (load ${s.load})`, target: `within 2x of the ${SIZES[0]}-job run` };
    }
    const big = b.scale[b.scale.length - 1];
    const small = b.scale[0];
    if (big !== small) {
      results[key(`scale_${big.jobs}_vs_${small.jobs}_dispatch_p50`)] = { value: Number((big.dispatchP50 / small.dispatchP50).toFixed(2)), unit: 'ratio', target: '<= 2' };
      results[key(`scale_${big.jobs}_vs_${small.jobs}_scheduler_rss_peak`)] = { value: Number((big.rss.scheduler.peakMb / small.rss.scheduler.peakMb).toFixed(2)), unit: 'ratio', target: '<= 2' };
    }
    // The largest run's trials: each figure is the median trial's, with every trial's value beside it.
    const sum = (o) => Object.values(o).reduce((a, c) => a + c, 0);
    const medianOf = (by) => [...b.trials].sort((x, y) => by(x) - by(y))[Math.floor((b.trials.length - 1) / 2)];
    const trialsOf = (by) => `${b.trials.length} trial${b.trials.length === 1 ? '' : 's'}: ${b.trials.map((t) => r1(by(t))).join(', ')}`;
    const cpuTotal = (t) => sum(t.cpuMsPerJob);
    const byCpu = medianOf(cpuTotal);
    results[key(`cpu_per_job_${big.jobs}_jobs`)] = {
      value: r1(cpuTotal(byCpu)),
      unit: `CPU ms per job beyond idle, all processes, trainer ${TRAINER}, median of ${trialsOf(cpuTotal)} (${Object.entries(byCpu.cpuMsPerJob)
        .map(([n, ms]) => `${n} ${ms}`)
        .join(', ')}); at most ${Math.floor((cpus().length * 1000) / cpuTotal(byCpu))} jobs/s on this machine's ${cpus().length} cores`,
      target: `<= ${r1((cpus().length * 1000) / 200)} (200 jobs/s)`,
    };
    const sleepsTotal = (t) => sum(t.sleepsPerJob);
    const bySleeps = medianOf(sleepsTotal);
    results[key(`sleeps_per_job_${big.jobs}_jobs`)] = {
      value: r1(sleepsTotal(bySleeps)),
      unit: `times a thread slept waiting, per job, all processes, median of ${trialsOf(sleepsTotal)} (${Object.entries(bySleeps.sleepsPerJob)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ')}): each ends in a wake-up, a message's dearest part on a VM`,
      target: 'reported',
    };
    const messagesTotal = (t) => sum(Object.values(t.messagesPerJob).map((m) => m.sent));
    const byMessages = medianOf(messagesTotal);
    results[key(`nats_messages_per_job_${big.jobs}_jobs`)] = {
      value: r1(messagesTotal(byMessages)),
      unit: `messages the services sent to NATS per job (publishes, acks, pull requests, replies), median of ${trialsOf(messagesTotal)} (sent/received: ${Object.entries(byMessages.messagesPerJob)
        .map(([n, m]) => `${n} ${m.sent}/${m.received}`)
        .join(', ')})`,
      target: 'reported',
    };
    if (big.sql) {
      const bySql = medianOf((t) => t.sql.perJob);
      results[key(`sql_statements_per_job_${big.jobs}_jobs`)] = {
        value: bySql.sql.perJob,
        unit: `SQL statements the services sent per job (round trips), BEGIN and COMMIT included, median of ${trialsOf((t) => t.sql.perJob)}; ${bySql.sql.nestedPerJob} more run inside them (functions, foreign-key checks) (pg_stat_statements; planning ${bySql.sql.planMsPerJob} ms and executing ${bySql.sql.execMsPerJob} ms a job, lock waits included); most called per job: ${bySql.sql.top
          .slice(0, 4)
          .map((t) => `${t.perJob} ${t.query.slice(0, 60)}`)
          .join('; ')}`,
        target: 'reported',
      };
    }
    results[key('cpu_idle')] = {
      value: r1(Object.values(b.cpuIdleMsPerSecond).reduce((a, c) => a + c, 0)),
      unit: `CPU ms per second with nothing to do, all processes (${Object.entries(b.cpuIdleMsPerSecond)
        .map(([n, ms]) => `${n} ${ms}`)
        .join(', ')}; 5 s, load ${b.loadAtStart})`,
      target: 'reported',
    };
    const byThroughput = medianOf((t) => t.jobsPerSecond);
    results[key(`throughput_${big.jobs}_jobs`)] = {
      value: r1(byThroughput.jobsPerSecond),
      unit: `jobs/s end to end, no-op command trainer ${TRAINER}, ${SLOTS} slots, median of ${trialsOf((t) => t.jobsPerSecond)} (${byThroughput.seconds.toFixed(1)} s, load ${byThroughput.load})`,
      target: '>= 200',
    };
    for (const [name, idle] of Object.entries(b.rssIdle)) {
      const short = name.startsWith('pglite-host') ? 'pglite_host' : name.replace('-', '_');
      results[key(`rss_${short}_idle`)] = { value: idle.meanMb, unit: `MB mean over 5 s idle (load ${b.loadAtStart})`, target: '< 200' };
      results[key(`rss_${short}_peak`)] = { value: b.rssPeak[name] ?? NaN, unit: `MB peak, idle and over the dispatch and scale runs`, target: '< 200' };
    }
    results[key('cli_models_list')] = { value: b.cli.medianMs, unit: `ms wall, median of ${b.cli.trials.length} (${b.cli.trials.join(', ')}; load ${b.cli.load})`, target: 'reported' };
  }
  // The test server's instances need namespaces of their own: root only.
  if (process.env.BENCH_STACK_VAST !== '0' && process.getuid() === 0) {
    say(`vast: starting (load ${load()})`);
    const v = await benchVast();
    const note = `${VAST_SYMBOLS} no-op jobs, ${v.instances} instances, load ${v.load}`;
    results.stack_vast_100_spend_vs_one_instance_per_job = {
      value: Number((v.spend / v.perJobSpend).toFixed(3)),
      unit: `ratio ($${v.spend.toFixed(5)}, the run's share of what instance.destroyed billed; the test server's whole bill $${v.billed.toFixed(5)}; one per job $${v.perJobSpend.toFixed(5)}; ${note})`,
      target: '<= 0.333',
    };
    results.stack_vast_100_wall = {
      value: r1(v.wall),
      unit: `s first job.requested to last job.succeeded (one instance per job, all at once: ${v.perJobWall.toFixed(1)} s at the median cold start of those rented, ${v.perJobWallSlowest.toFixed(1)} s at the slowest; ${note})`,
      target: 'equal or better than one instance per job',
    };
    results.stack_vast_first_job_rented = {
      value: Math.round(v.coldP50),
      unit: `ms instance.created to its first job.started, p50 of ${v.cold} (test server: 200 ms boot, bootstrap over SSH: medians of ${v.stages.count}, SSH connect ${v.stages.connect.toFixed(1)} s, waiting for the agent's archive and Node's gzip ${v.stages.pack.toFixed(1)} s, copy ${v.stages.copy.toFixed(1)} s, agent start ${v.stages.start.toFixed(1)} s, to its first heartbeat ${v.stages.firstHeartbeat.toFixed(1)} s; ${note})`,
      target: 'reported',
    };
    results.stack_vast_first_job_warm = {
      value: r1(v.warmP50),
      unit: `ms job.requested to job.started of a run of ${SLOTS} while the instances are rented, p50 of ${v.warm} (p99 ${r1(v.warmP99)}; ${note})`,
      target: 'reported',
    };
  }
  const m = makespans();
  results.makespan_200_varied_jobs_12_slots_release_vs_bound = {
    value: Number((m.release / m.bound).toFixed(4)),
    unit: `ratio (simulated; ${m.release} s against ${Math.round(m.bound)} s)`,
    target: '<= 1.05',
  };
  results.makespan_200_varied_jobs_12_slots_batches_vs_release = { value: Number((m.batches / m.release).toFixed(4)), unit: `ratio (simulated; fixed batches of 12 ${m.batches} s)`, target: '> 1' };
  results.stack_bench_seconds = { value: Math.round((Date.now() - started) / 1000), unit: `s (sizes ${SIZES.join(', ')}; load ${load()})`, target: 'reported' };
  return results;
}

module.exports = { runStackBench };

runAsScript(module, runStackBench);
