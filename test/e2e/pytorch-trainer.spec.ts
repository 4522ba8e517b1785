import type { INestApplication } from '@nestjs/common';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '@trainyard/config';
import { toJobSpec, type CheckpointRef, type JobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { S3ArtifactStore } from '@trainyard/storage';
import {
  bootTestApp,
  createTestDatabase,
  deleteTestStream,
  readStored,
  startS3TestServer,
  testJobDefinition,
  testLease,
  testNatsUrl,
  testPrefix,
  waitFor,
  type S3TestServer,
  type TestDatabase,
} from '@trainyard/testing';
import { AppModule as AgentModule } from '../../apps/trainer-agent/src/app.module';
import { agentEnv } from '../../apps/trainer-agent/src/config/agent.config';
import { encodeCandleParquet } from '../../apps/trainer-agent/src/market-data/candle-parquet';
import { endOfDataDate, generateSyntheticCandles } from '../../apps/trainer-agent/src/training/candles';
import { AppModule as PromoterModule } from '../../apps/promoter/src/app.module';
import { promoterEnv } from '../../apps/promoter/src/config/promoter.config';
import { answerAsScheduler, type SchedulerRecord } from '../../apps/promoter/src/registry/scheduler-record.fixture';

jest.setTimeout(180_000);

const ROOT = resolve(__dirname, '../..');
// Debian's interpreter, which has python3-torch; another python3 may come first on PATH.
const PYTHON = '/usr/bin/python3';
const DATE = '2026-11-22';

/** The trainer process (its own group's leader) whose output folder is under `workRoot`, found by its environment. */
function trainerProcess(workRoot: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .some((kv) => kv.startsWith(`TRAINYARD_OUTPUT_DIR=${workRoot}/`))
      )
        return Number(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return undefined;
}

/** This process's children that are the example serving as a worker. */
function workerProcesses(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--serve');
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * examples/pytorch run for real through the command driver, on candles the agent reads from Parquet
 * files and hands it: the agent and the promoter in-process on real NATS, PostgreSQL and an
 * S3-protocol server; the test plays the scheduler and the broker.
 */
describe('the PyTorch example trainer end to end', () => {
  const prefix = testPrefix('torch');
  const dir = mkdtempSync(join(tmpdir(), 'ty-torch-'));
  const work = join(dir, 'work');
  const agentId = `agent-${prefix}`;
  let s3: S3TestServer;
  let store: S3ArtifactStore;
  let db: TestDatabase;
  let agent: INestApplication;
  let promoter: INestApplication;
  let bus: NatsBus;
  const record = new Map<string, SchedulerRecord>();

  beforeAll(async () => {
    const dataDir = join(dir, 'candles');
    mkdirSync(dataDir, { recursive: true });
    for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
      // More than the lookback, some after the data date: the agent picks the job's window.
      const { candles } = generateSyntheticCandles({ symbol, date: '2026-11-24', timeframe: '1h', count: 1500, seed: 11 });
      writeFileSync(join(dataDir, `${symbol}_1h.parquet`), encodeCandleParquet(candles));
    }
    s3 = await startS3TestServer();
    store = new S3ArtifactStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    db = await createTestDatabase();
    const agentConfig = agentEnv.parse({
      ...s3.env,
      NATS_URL: testNatsUrl(),
      TRAINYARD_PREFIX: prefix,
      AGENT_ID: agentId,
      AGENT_WORK_DIR: work,
      AGENT_NVIDIA_SMI: 'none',
      AGENT_CPU_SLOTS: '2',
      AGENT_DATA_SOURCE: 'files',
      AGENT_DATA_DIR: dataDir,
      AGENT_TRAINERS: `pytorch=${PYTHON} ${join(ROOT, 'examples/pytorch/train.py')}; worker:pytorch-worker=${PYTHON} ${join(ROOT, 'examples/pytorch/train.py')} --serve`,
    });
    agent = await bootTestApp({ imports: [AgentModule.forRoot(agentConfig)] }, { placeholders: { agentId } });
    const promoterConfig = loadConfig(promoterEnv, { ...s3.env, DATABASE_URL: db.url, NATS_URL: testNatsUrl(), TRAINYARD_PREFIX: prefix });
    promoter = await bootTestApp({ imports: [PromoterModule.forRoot(promoterConfig)] });
    bus = agent.get(NatsBus);
    await answerAsScheduler(bus, record);
  });

  afterAll(async () => {
    await agent?.close();
    await promoter?.close();
    store?.close();
    await s3?.close();
    await db?.drop();
    await deleteTestStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const lease = (leaseId: string) => testLease(leaseId, agentId);
  const outcome = (leaseId: string) =>
    waitFor(
      async () => {
        for (const subject of ['job.succeeded', 'job.failed'] as const) {
          const hit = (await readStored(prefix, subject)).map((e) => e.data).find((d) => d.leaseId === leaseId);
          if (hit) return { subject, data: hit as any };
        }
        return undefined;
      },
      `the outcome of ${leaseId}`,
      120_000,
    );
  const ofJob = async (subject: 'job.checkpointed' | 'job.progress' | 'job.resumed' | 'model.registered' | 'model.promoted', jobId: string) =>
    (await readStored(prefix, subject)).map((e) => e.data).filter((d) => d.jobId === jobId);
  const attemptLog = async (artifactsPrefix: string) => (await store.get(`${artifactsPrefix}/attempt.log`)).toString('utf8');
  const torchJob = (symbol: string, epochs: number, args: string[] = [], trainer = 'pytorch') =>
    testJobDefinition({
      symbol,
      runId: trainer === 'pytorch' ? 'torch' : trainer,
      date: DATE,
      lookbackCandles: 1000,
      model: { type: 'logistic', learningRate: 0.001, epochs, seed: 3 },
      driver: { kind: 'command', trainer, args },
    });

  it('trains on the candles it is handed, is killed, resumes from the newest good checkpoint, and its metrics are registered and promoted', async () => {
    // Half a second per epoch, never stopping early: time to upload checkpoints and kill it midway.
    const definition = torchJob('BTCUSDT', 16, ['--patience=100', '--epoch-pause=0.5']);
    const first = toJobSpec(definition, 1);
    await bus.publish('agent.assign', { spec: first, lease: lease('lease-torch-1') });
    await waitFor(async () => (await ofJob('job.checkpointed', first.jobId)).length >= 2, 'two checkpoints uploaded', 60_000);
    const pid = await waitFor(async () => trainerProcess(work), 'the trainer process');
    process.kill(-pid, 'SIGKILL');

    const killed = await outcome('lease-torch-1');
    expect(killed.subject).toBe('job.failed');
    // A SIGKILL is what the kernel's OOM killer sends: retried, with half the batch.
    expect(killed.data).toMatchObject({ errorType: 'oom', retryable: true });
    const progress = await ofJob('job.progress', first.jobId);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ attempt: 1, percent: expect.any(Number), epoch: expect.any(Number), loss: expect.any(Number), validationMetric: expect.any(Number) });

    // As the scheduler records them: the latest, and the earlier ones newest first. The latest is damaged in the store.
    const made: CheckpointRef[] = (await ofJob('job.checkpointed', first.jobId)).map((d) => d.checkpoint);
    expect(made.length).toBeGreaterThanOrEqual(2);
    expect(made.every((c) => /\/checkpoints\/epoch-\d+\.pt$/.test(c.key!))).toBe(true);
    const [previous, latest] = made.slice(-2);
    if (!previous || !latest) throw new Error(`${made.length} checkpoints made, 2 at least wanted`);
    await store.put(latest.key!, Buffer.from('not a torch checkpoint'));
    const retry: JobSpec = toJobSpec(definition, 2, { resumeFrom: latest, earlierCheckpoints: made.slice(0, -1).reverse().slice(0, 4), oomFailures: 1 });
    record.set(first.jobId, { attempt: 2, status: 'succeeded' });
    await bus.publish('agent.assign', { spec: retry, lease: lease('lease-torch-2') });
    const done = await outcome('lease-torch-2');
    expect(done.subject).toBe('job.succeeded');

    const resumed = (await ofJob('job.resumed', first.jobId)).find((d) => d.attempt === 2);
    expect(resumed).toMatchObject({ checkpoint: previous, skipped: [{ checkpoint: latest, reason: expect.stringMatching(/does not match its checksum/) }] });
    const log = await attemptLog(done.data.artifactsPrefix);
    expect(log).toContain('output inputs: 1000 candles from files in candles.parquet');
    expect(log).toContain('output training on 1000 candles from candles.parquet');
    expect(log).toContain(`resume_fallback from ${previous.key}`);
    const previousEpoch = Number(/epoch-(\d+)\.pt$/.exec(previous.key!)![1]);
    expect(log).toContain(`output resumed after epoch ${previousEpoch + 1} from epoch-${previousEpoch}.pt`);
    expect(log).toMatch(/progress 100% epoch 16\/16/);
    // The window the example tested on ends with the job's last candle.
    expect(done.data.evaluationWindow.to).toBe(new Date(endOfDataDate(DATE)).toISOString());
    expect(done.data.featureset).toBe('torch-returns-v1');
    const names = done.data.artifacts.map((a: { name: string }) => a.name);
    expect(names).toEqual(expect.arrayContaining(['model.pt', 'config.json', 'metrics.json', 'inputs/candles.parquet', 'job.json', 'sha256.txt']));
    expect(names.filter((n: string) => n.startsWith('checkpoints/'))).toContain('checkpoints/epoch-15.pt');

    const registered = await waitFor(async () => (await ofJob('model.registered', first.jobId))[0], 'model.registered');
    expect(registered).toMatchObject({ symbol: 'BTCUSDT', version: 1, metrics: done.data.metrics, artifactsPrefix: done.data.artifactsPrefix });
    const promoted = await waitFor(async () => (await ofJob('model.promoted', first.jobId))[0], 'model.promoted');
    expect(promoted).toMatchObject({ symbol: 'BTCUSDT', version: 1, metrics: done.data.metrics });
  });

  it("trains on the feature store's features when it has them for the job", async () => {
    // A built-in job that stores its features, then the example on the same symbol and date.
    const builtin = toJobSpec(testJobDefinition({ symbol: 'ETHUSDT', runId: 'features', date: DATE, lookbackCandles: 1000, ensureFeatures: true }), 1);
    const spec = toJobSpec(torchJob('ETHUSDT', 3), 1);
    // Neither model is promoted: the scheduler answers that their runs asked for none.
    for (const jobId of [builtin.jobId, spec.jobId]) record.set(jobId, { promote: 'off' });
    await bus.publish('agent.assign', { spec: builtin, lease: lease('lease-features') });
    const stored = await outcome('lease-features');
    expect(stored.subject).toBe('job.succeeded');

    await bus.publish('agent.assign', { spec, lease: lease('lease-torch-features') });
    const done = await outcome('lease-torch-features');
    expect(done.subject).toBe('job.succeeded');
    expect(done.data.featureset).toBe(spec.featureset);
    const log = await attemptLog(done.data.artifactsPrefix);
    expect(log).toContain(`features from features/${spec.featureset}/ETHUSDT/${DATE}.parquet in features.parquet`);
    expect(log).toMatch(/output training on \d+ feature rows \(\d+ features\) from features\.parquet/);
    // The built-in trainer and the example test on blocks that end with the same bar.
    expect(done.data.evaluationWindow.to).toBe(stored.data.evaluationWindow.to);
    expect(done.data.artifacts.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['inputs/candles.parquet', 'inputs/features.parquet']));
  });

  it('as a worker, imports PyTorch once and trains job after job in one process, to the same models as a process per job', async () => {
    const perJob = toJobSpec(torchJob('ETHUSDT', 3, [], 'pytorch'), 1);
    const first = toJobSpec(torchJob('ETHUSDT', 3, [], 'pytorch-worker'), 1);
    const second = toJobSpec(torchJob('BTCUSDT', 3, ['--patience=2'], 'pytorch-worker'), 1);
    // ETHUSDT's features stored, BTCUSDT's not: the second job must not see the first one's.
    const builtin = toJobSpec(testJobDefinition({ symbol: 'ETHUSDT', runId: 'worker-features', date: DATE, lookbackCandles: 1000, ensureFeatures: true }), 1);
    for (const jobId of [builtin.jobId, perJob.jobId, first.jobId, second.jobId]) record.set(jobId, { promote: 'off' });
    await bus.publish('agent.assign', { spec: builtin, lease: lease('lease-worker-features') });
    expect((await outcome('lease-worker-features')).subject).toBe('job.succeeded');
    await bus.publish('agent.assign', { spec: perJob, lease: lease('lease-per-job') });
    const reference = await outcome('lease-per-job');
    expect(reference.subject).toBe('job.succeeded');

    await bus.publish('agent.assign', { spec: first, lease: lease('lease-worker-1') });
    const one = await outcome('lease-worker-1');
    expect(one.subject).toBe('job.succeeded');
    const [worker, ...others] = workerProcesses();
    expect(worker).toBeDefined();
    expect(others).toEqual([]);
    // The same job's model, whether its process was started for it or served it among others.
    expect(one.data.metrics).toEqual(reference.data.metrics);
    expect(one.data.artifacts.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['model.pt', 'config.json', 'metrics.json', 'inputs/features.parquet', 'job.json']));
    expect(await attemptLog(one.data.artifactsPrefix)).toMatch(/output training on \d+ feature rows/);

    await bus.publish('agent.assign', { spec: second, lease: lease('lease-worker-2') });
    const two = await outcome('lease-worker-2');
    expect(two.subject).toBe('job.succeeded');
    expect(workerProcesses()).toEqual([worker]);
    const log = await attemptLog(two.data.artifactsPrefix);
    expect(log).toContain('output training on 1000 candles from candles.parquet');
    expect(log).toContain('reported its result');
  });
});
