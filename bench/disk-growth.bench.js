/**
 * Disk growth (issue 16.7): 30 simulated days of a daily run of 20 symbols through the real
 * scheduler and promoter (NATS, PostgreSQL, the local artifact store), their clocks moved a day at a
 * time; a simulated agent answers each job by writing what a real attempt writes, and each day ends
 * with both services' retention. Reports the store's growth per day over the last 10 days (after
 * retention has reached its steady state for logs and failures) and what retention freed.
 */
const { createHash } = require('node:crypto');
const { Test } = require('@nestjs/testing');
const { Clock } = require('@trainyard/runtime');
const { connectJetStream, NatsBus } = require('@trainyard/messaging');
const { createTestDatabase } = require('@trainyard/testing');
const { ARTIFACT_STORE } = require('@trainyard/storage');
const { deleteTestStream, testNatsUrl, testPrefix, waitFor } = require('@trainyard/testing');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { runAsScript } = require('../tools/harness');
const scheduler = {
  app: require('../apps/scheduler/dist/app.module'),
  cfg: require('../apps/scheduler/dist/config/scheduler.config'),
  retention: require('../apps/scheduler/dist/retention/record-retention.service'),
};
const promoter = {
  app: require('../apps/promoter/dist/app.module'),
  cfg: require('../apps/promoter/dist/config/promoter.config'),
  retention: require('../apps/promoter/dist/retention/retention.service'),
};

const DAYS = 30;
const SYMBOLS = Array.from({ length: 20 }, (_, i) => `S${String(i).padStart(2, '0')}USDT`);
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 1, 0, 30);

/**
 * What one attempt writes, in bytes, from a built-in attempt measured at 600 candles (job-runner
 * spec) scaled to the default 2000, plus the command driver's PyTorch example (an MLP of 64 hidden
 * units: ~20 KB per checkpoint with Adam's state, one per epoch, 50 epochs, and its input candles).
 */
const ATTEMPT = {
  'features.parquet': 215_000,
  'inputs/candles.parquet': 102_000,
  'split_indices.json': 17_000,
  'equity.json': 13_700,
  'training_log.json': 4_000,
  'model.bin': 1_400,
  'model.pt': 8_000,
  'metrics.json': 800,
  'config.json': 400,
  'job.json': 650,
  'runtime.json': 190,
  'attempt.log': 2_100,
  // 50 epochs' checkpoints of ~20 KB as 10 objects of the same total, to keep the bench short.
  ...Object.fromEntries(Array.from({ length: 10 }, (_, e) => [`checkpoints/epoch-${String((e + 1) * 5).padStart(4, '0')}.pt`, 100_000])),
};

class MovedClock extends Clock {
  t = START;
  now() {
    return new Date(this.t);
  }
}

async function boot(module, config, clock) {
  const ref = await Test.createTestingModule({ imports: [module.AppModule.forRoot(config)] })
    .overrideProvider(Clock)
    .useValue(clock)
    .compile();
  const app = ref.createNestApplication({ logger: false });
  connectJetStream(app);
  await app.startAllMicroservices();
  await app.init();
  return app;
}

const stamp = (d) => d.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15) + 'Z';

async function runDiskGrowthBench() {
  const started = Date.now();
  const clock = new MovedClock();
  // The local store (same layout as S3): s3rver answers InternalError under this many objects.
  const dir = mkdtempSync(join(tmpdir(), 'bench-disk-'));
  const sdb = await createTestDatabase();
  const pdb = await createTestDatabase();
  const prefix = testPrefix('bench-disk');
  const common = { ARTIFACTS_DIR: dir, NATS_URL: testNatsUrl(), TRAINYARD_PREFIX: prefix };
  const sched = await boot(
    scheduler.app,
    scheduler.cfg.schedulerEnv.parse({ ...common, DATABASE_URL: sdb.url, SCHEDULER_TICK_MS: '100', SCHEDULER_MAX_RETRIES: '0', SCHEDULER_RETENTION_AT: '23:59' }),
    clock,
  );
  const prom = await boot(promoter.app, promoter.cfg.promoterEnv.parse({ ...common, DATABASE_URL: pdb.url }), clock);
  const bus = sched.get(NatsBus);
  const store = sched.get(ARTIFACT_STORE);
  const answered = new Set();
  let agent = Promise.resolve();
  const sub = bus.nc.subscribe(`${prefix}.job.requested`, {
    callback: (_err, msg) => {
      const spec = JSON.parse(msg.string()).spec;
      if (answered.has(spec.jobId)) return;
      answered.add(spec.jobId);
      // One attempt's uploads at a time, as one agent box would.
      agent = agent.then(() => answer(bus, store, clock, spec)).catch((err) => console.error(`bench agent: ${spec.jobId}: ${err.message}`));
    },
  });
  const totals = { rows: 0, objects: 0, bytes: 0 };
  const bytesAfter = [];
  try {
    for (let day = 0; day < DAYS; day++) {
      clock.t = START + day * DAY_MS;
      const runId = `daily-${day}`;
      await bus.publish('run.requested', {
        runId,
        trigger: 'api',
        date: new Date(clock.t - DAY_MS).toISOString().slice(0, 10),
        symbols: SYMBOLS,
        mode: 'parallel',
        maxConcurrent: 20,
        promote: 'auto',
      });
      const ds = sched.get(require('typeorm').DataSource);
      await waitFor(async () => (await ds.query(`SELECT status FROM scheduler.runs WHERE id = $1`, [runId]))[0]?.status !== 'running' || null, `${runId} done`, 60_000, 50);
      const pds = prom.get(require('typeorm').DataSource);
      const succeeded = (await ds.query(`SELECT count(*)::int AS n FROM scheduler.jobs WHERE run_id = $1 AND status = 'succeeded'`, [runId]))[0].n;
      await waitFor(
        async () =>
          (await pds.query(`SELECT count(*)::int AS n FROM promoter.decisions d JOIN promoter.model_versions v ON v.id = d.version_id WHERE v.run_id = $1`, [runId]))[0].n >= succeeded || null,
        `${runId} decided`,
        60_000,
        50,
      );
      clock.t = START + day * DAY_MS + 23 * 3_600_000;
      const s = await sched.get(scheduler.retention.RecordRetentionService).run();
      await prom.get(promoter.retention.RetentionService).run();
      totals.rows += s.rows.jobs + s.rows.attempts + s.rows.runs;
      totals.objects += s.objectsDeleted;
      totals.bytes += s.bytesFreed;
      bytesAfter.push((await store.list('')).reduce((sum, o) => sum + o.bytes, 0));
    }
  } finally {
    sub.unsubscribe();
    await prom.close();
    await sched.close();
    await sdb.drop();
    await pdb.drop();
    await deleteTestStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
  const last = bytesAfter.length - 1;
  const perDay = (bytesAfter[last] - bytesAfter[last - 10]) / 10;
  const mb = (b) => Number((b / 1e6).toFixed(2));
  return {
    disk_growth_per_day_after_retention: { value: mb(perDay), unit: `MB/day (20 symbols, days 20-30; store ${mb(bytesAfter[last])} MB after 30 days)`, target: '< 500' },
    disk_retention_freed_30_days: { value: mb(totals.bytes), unit: `MB freed by scheduler retention in ${totals.objects} objects, ${totals.rows} rows`, target: 'reported' },
    disk_growth_bench_seconds: { value: Math.round((Date.now() - started) / 1000), unit: 's', target: '< 120' },
  };
}

/** The simulated agent: one attempt in `models/<SYMBOL>/<stamp>_a<n>-<hex>/`; one symbol in ten fails each day after its checkpoints. */
async function answer(bus, store, clock, spec) {
  const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
  const leaseId = `${spec.jobId}-a${spec.attempt}-lease`;
  const hex = createHash('sha256').update(leaseId).digest('hex').slice(0, 8);
  const folder = `models/${spec.symbol}/${stamp(clock.now())}_a${spec.attempt}-${hex}`;
  const fails = (Number(spec.symbol.slice(1, 3)) + Number(spec.runId.split('-')[1])) % 10 === 0;
  await bus.publish('job.started', { ...ref, agentId: 'bench', leaseId, workDir: '/w', artifactsPrefix: folder });
  const artifacts = [];
  for (const [name, bytes] of Object.entries(ATTEMPT)) {
    if (fails && !name.startsWith('checkpoints/') && name !== 'attempt.log' && name !== 'inputs/candles.parquet') continue;
    const put = await store.put(`${folder}/${name}`, Buffer.alloc(bytes, name.length));
    if (!name.startsWith('checkpoints/')) artifacts.push({ name, uri: put.uri, sha256: put.sha256, bytes: put.bytes });
  }
  if (fails) {
    await bus.publish('job.failed', { ...ref, errorType: 'bad_data', retryable: false, message: 'gap in candles' });
    return;
  }
  const at = clock.now().toISOString();
  const q = ((Number(spec.symbol.slice(1, 3)) * 7 + Number(spec.runId.split('-')[1]) * 13) % 100) / 100;
  await bus.publish('job.succeeded', {
    ...ref,
    agentId: 'bench',
    leaseId,
    date: spec.date,
    featureset: spec.featureset,
    costs: spec.costs,
    artifactsPrefix: folder,
    artifacts,
    metrics: { directionalHitRate: 0.45 + q / 10, sharpe: q * 2 - 0.5, maxDrawdown: 0.1, totalReturn: 0.01, mae: 0, rmse: 0, mape: 0, r2: 0 },
    evaluationWindow: { from: at, to: at, candles: 400 },
    trainSeconds: 1,
    startedAt: at,
    finishedAt: at,
  });
}

module.exports = { runDiskGrowthBench };

runAsScript(module, runDiskGrowthBench);
