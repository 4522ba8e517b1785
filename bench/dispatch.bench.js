#!/usr/bin/env node
/**
 * Dispatch and per-job cost: a run of 200 symbols through the real scheduler and the real broker
 * (NATS, PostgreSQL), one simulated agent with 12 CPU slots answering each assignment with a start and
 * a success after 50 ms, over a month of history (a warm-up run copied 29 times). Measures the broker's placement passes for the run's first burst of 12
 * requests, dispatch latency (job.requested to agent.assign), the scheduler's rows read per job
 * (pg_stat_user_tables: sequential tuples read + index tuples fetched, its schema, whole run) and
 * repeated job.requested.
 */
const { Test } = require('@nestjs/testing');
const { connectJetStream, NatsBus } = require('@trainyard/messaging');
const { createTestDatabase } = require('@trainyard/testing');
const { deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor } = require('@trainyard/testing');
const { DataSource } = require('typeorm');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { runAsScript } = require('../tools/harness');
const scheduler = { app: require('../apps/scheduler/dist/app.module'), cfg: require('../apps/scheduler/dist/config/scheduler.config') };
const broker = { app: require('../apps/gpu-broker/dist/app.module'), cfg: require('../apps/gpu-broker/dist/config/broker.config'), leases: require('../apps/gpu-broker/dist/leases/lease.service') };

const JOBS = 200;
const SLOTS = 12;
const AGENT = 'bench-agent';

async function boot(module, config) {
  const ref = await Test.createTestingModule({ imports: [module.AppModule.forRoot(config)] }).compile();
  const app = ref.createNestApplication({ logger: false });
  connectJetStream(app);
  await app.startAllMicroservices();
  await app.init();
  return app;
}

/** Rows each of the scheduler's tables has handed out so far; a backend's counts reach the view when it goes idle or exits. */
async function rowsRead(db) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: db.url });
  await c.connect();
  try {
    const rows = (await c.query(`SELECT relname, (seq_tup_read + coalesce(idx_tup_fetch, 0))::bigint AS n FROM pg_stat_user_tables WHERE schemaname = 'scheduler'`)).rows;
    return new Map(rows.map((r) => [r.relname, Number(r.n)]));
  } finally {
    await c.end();
  }
}

const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
/** Per table, what was read since `before`. */
const since = (before, after) => new Map([...after].map(([t, n]) => [t, n - (before.get(t) ?? 0)]).filter(([, n]) => n > 0));

async function runDispatchBench() {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'bench-dispatch-'));
  const sdb = await createTestDatabase();
  const bdb = await createTestDatabase();
  const prefix = testPrefix('bench-dispatch');
  const common = { ARTIFACTS_DIR: dir, NATS_URL: testNatsUrl(), TRAINYARD_PREFIX: prefix };
  const brk = await boot(broker.app, broker.cfg.brokerEnv.parse({ ...common, DATABASE_URL: bdb.url, BROKER_TICK_MS: '1000' }));
  const bootScheduler = () => boot(scheduler.app, scheduler.cfg.schedulerEnv.parse({ ...common, DATABASE_URL: sdb.url, SCHEDULER_TICK_MS: '1000', SCHEDULER_MAX_RETRIES: '0' }));
  let sched = await bootScheduler();
  // The simulated agent and the requests go through the broker's connection: the scheduler restarts once.
  const bus = brk.get(NatsBus);
  // Passes counted where they run; the bench reads the broker, it does not change what it does.
  const leases = brk.get(broker.leases.LeaseService);
  const place = leases.placePending.bind(leases);
  let passes = 0;
  leases.placePending = () => ((passes += 1), place());

  const running = new Map();
  const heartbeat = () =>
    bus.publish('agent.heartbeat', { agentId: AGENT, host: 'bench', provider: 'local', gpus: [], cpuSlots: SLOTS, running: [...running.values()], startedAt: new Date(started).toISOString() });
  await heartbeat();
  const beat = setInterval(() => void heartbeat().catch(() => undefined), 1000);
  let burstPasses = null;
  let assigned = 0;
  let passesAtStart = 0;
  const sub = bus.nc.subscribe(`${prefix}.agent.${AGENT}.assign`, {
    callback: (_err, msg) => {
      const { spec, lease } = JSON.parse(msg.string());
      if (running.has(lease.leaseId)) return;
      assigned += 1;
      if (assigned === SLOTS) burstPasses = passes - passesAtStart;
      const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt, agentId: AGENT, leaseId: lease.leaseId };
      running.set(lease.leaseId, { jobId: spec.jobId, attempt: spec.attempt, leaseId: lease.leaseId });
      void (async () => {
        await bus.publish('job.started', { ...ref, workDir: '/w' });
        await new Promise((r) => setTimeout(r, 50));
        const at = new Date().toISOString();
        await bus.publish('job.succeeded', {
          ...ref,
          date: spec.date,
          featureset: spec.featureset,
          costs: spec.costs,
          artifactsPrefix: `models/${spec.symbol}/bench`,
          artifacts: [{ name: 'model.bin', uri: 'file:///bench', sha256: 'a'.repeat(64), bytes: 1 }],
          metrics: { directionalHitRate: 0.5, sharpe: 0, maxDrawdown: 0, totalReturn: 0, mae: 0, rmse: 0, mape: 0, r2: 0 },
          evaluationWindow: { from: at, to: at, candles: 400 },
          trainSeconds: 0.05,
          startedAt: at,
          finishedAt: at,
        });
        running.delete(lease.leaseId);
      })().catch((err) => console.error(`bench agent: ${spec.jobId}: ${err.message}`));
    },
  });

  // Symbols of their own per run: the ledger would skip a training the warm-up already did.
  const symbols = (letter) => Array.from({ length: JOBS }, (_, i) => `${letter}${String(i).padStart(4, '0')}USDT`);
  let ds = sched.get(DataSource);
  const run = async (runId, letter) => {
    await bus.publish('run.requested', { runId, trigger: 'api', symbols: symbols(letter), mode: 'parallel', maxConcurrent: SLOTS, promote: 'off' });
    await waitFor(async () => (await ds.query(`SELECT status FROM scheduler.runs WHERE id = $1`, [runId]))[0]?.status === 'succeeded' || null, `${runId} completed`, 600_000, 100);
  };
  let result;
  try {
    // History as a month of daily runs leaves it (retention keeps succeeded jobs 90 days): a warm-up run,
    // copied 29 times, so the planner sees tables of production's shape.
    await run('bench-warm', 'W');
    await ds.query(
      `INSERT INTO scheduler.runs SELECT (jsonb_populate_record(NULL::scheduler.runs, to_jsonb(r) || jsonb_build_object('id', r.id || '-' || g))).* FROM scheduler.runs r, generate_series(1, 29) g WHERE r.id = 'bench-warm'`,
    );
    await ds.query(
      `INSERT INTO scheduler.jobs SELECT (jsonb_populate_record(NULL::scheduler.jobs, to_jsonb(j) || jsonb_build_object('id', j.id || '-' || g, 'run_id', j.run_id || '-' || g))).* FROM scheduler.jobs j, generate_series(1, 29) g WHERE j.run_id = 'bench-warm'`,
    );
    await ds.query(`ANALYZE`);
    // Restarted, so every count of the warm-up has reached the statistics (a backend reports what it read when it exits).
    await sched.close();
    sched = await bootScheduler();
    ds = sched.get(DataSource);
    passesAtStart = passes;
    burstPasses = null;
    assigned = 0;
    const before = await rowsRead(sdb);
    const runStarted = Date.now();
    await run('bench-run', 'B');
    const runSeconds = (Date.now() - runStarted) / 1000;
    const requested = (await readStored(prefix, 'job.requested')).filter((r) => r.data.spec.runId === 'bench-run');
    const assigns = (await readStored(prefix, `agent.${AGENT}.assign`)).filter((a) => a.data.spec.runId === 'bench-run');
    const requestedAt = new Map();
    for (const r of requested) if (!requestedAt.has(r.data.spec.jobId)) requestedAt.set(r.data.spec.jobId, Date.parse(r.data.occurredAt));
    const latencies = assigns.map((a) => Date.parse(a.data.occurredAt) - requestedAt.get(a.data.spec.jobId)).sort((a, b) => a - b);
    clearInterval(beat);
    sub.unsubscribe();
    await sched.close();
    sched.closed = true;
    // Closed backends have reported what they read.
    const read = await waitFor(
      async () => {
        const n = since(before, await rowsRead(sdb));
        await new Promise((r) => setTimeout(r, 200));
        return total(n) === total(since(before, await rowsRead(sdb))) ? n : null;
      },
      'the statistics settled',
      30_000,
      200,
    );
    const rows = total(read);
    const byTable = [...read]
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t} ${Math.round(n / JOBS)}`)
      .join(', ');
    result = {
      dispatch_passes_first_12_requests: { value: burstPasses, unit: 'broker placement passes until 12 requests placed', target: '<= 3' },
      dispatch_latency_p50_ms: {
        value: latencies[Math.floor(latencies.length / 2)],
        unit: `ms job.requested → agent.assign (p95 ${latencies[Math.floor(latencies.length * 0.95)]})`,
        target: 'reported',
      },
      scheduler_rows_read_per_job: { value: Math.round(rows / JOBS), unit: `rows read per job (${JOBS}-job run, ${rows} in all; ${byTable})`, target: '< 50' },
      repeated_job_requests: { value: requested.length - JOBS, unit: `job.requested beyond one per job (${JOBS} jobs)`, target: '0' },
      dispatch_bench_run_seconds: { value: Math.round(runSeconds * 10) / 10, unit: `s for the ${JOBS}-job run on ${SLOTS} slots (${passes - passesAtStart} broker passes)`, target: 'reported' },
    };
  } finally {
    clearInterval(beat);
    sub.unsubscribe();
    if (!sched.closed) await sched.close();
    await brk.close();
    await sdb.drop();
    await bdb.drop();
    await deleteTestStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

module.exports = { runDispatchBench };

runAsScript(module, runDispatchBench);
