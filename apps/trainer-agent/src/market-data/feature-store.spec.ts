import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex, toJobSpec, type JobDefinition } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { S3ArtifactStore } from '@trainyard/storage';
import { readStored, startS3TestServer, testJobDefinition, testLease, TestService, waitFor, type S3TestServer } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { agentEnv } from '../config/agent.config';
import { generateSyntheticCandles } from '../training/candles';
import { encodeCandleParquet } from './candle-parquet';
import { decodeFeatureTable } from './feature-parquet';

jest.setTimeout(60_000);

/**
 * The agent with its artifacts, and so its feature store, on a real S3-protocol server (s3rver),
 * its candles from Parquet files in a data folder; the test plays the broker.
 */
describe('feature store on S3', () => {
  const svc = new TestService({ env: agentEnv, module: AppModule.forRoot, prefix: 'features', database: false });
  const { prefix, dir } = svc;
  const dataDir = join(dir, 'candles');
  const agentId = `agent-${prefix}`;
  let s3: S3TestServer;
  let store: S3ArtifactStore;
  let bus: NatsBus;

  beforeAll(async () => {
    mkdirSync(dataDir, { recursive: true });
    s3 = await startS3TestServer();
    store = new S3ArtifactStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    const app = await svc.start(
      { ...s3.env, AGENT_ID: agentId, AGENT_WORK_DIR: join(dir, 'work'), AGENT_NVIDIA_SMI: 'none', AGENT_CPU_SLOTS: '2', AGENT_DATA_SOURCE: 'files', AGENT_DATA_DIR: dataDir },
      { agentId },
    );
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await svc.close();
    store?.close();
    await s3?.close();
  });

  const lease = (leaseId: string) => testLease(leaseId, agentId);
  const definition = (symbol: string, runId: string, extra: Partial<JobDefinition> = {}) =>
    testJobDefinition({ symbol, runId, lookbackCandles: 600, model: { type: 'logistic', learningRate: 0.5, epochs: 5, seed: 3 }, ...extra });
  const outcome = (leaseId: string) =>
    waitFor(async () => {
      for (const subject of ['job.succeeded', 'job.failed'] as const) {
        const hit = (await readStored(prefix, subject)).map((e) => e.data).find((d) => d.leaseId === leaseId);
        if (hit) return { subject, data: hit as any };
      }
      return null;
    }, `the outcome of ${leaseId}`);
  const attemptLog = async (artifactsPrefix: string) => (await store.get(`${artifactsPrefix}/attempt.log`)).toString();
  const writeCandles = async (symbol: string, mutate = (c: ReturnType<typeof generateSyntheticCandles>['candles']) => c) => {
    const { candles } = generateSyntheticCandles({ symbol, date: '2026-11-22', timeframe: '1h', count: 700, seed: 11 });
    writeFileSync(join(dataDir, `${symbol}_1h.parquet`), encodeCandleParquet(mutate(candles)));
  };

  it('stores the features of a job that ensures them, once, and a later job loads them instead of computing', async () => {
    await writeCandles('BTCUSDT');
    const key = 'features/fs1/BTCUSDT/2026-11-22.parquet';
    expect(await store.exists(key)).toBe(false);

    await bus.publish('agent.assign', { spec: toJobSpec(definition('BTCUSDT', 'first', { ensureFeatures: true }), 1), lease: lease('lease-first') });
    const first = await outcome('lease-first');
    expect(first.subject).toBe('job.succeeded');
    expect(await attemptLog(first.data.artifactsPrefix)).toMatch(/features_stored at features\/fs1\/BTCUSDT\/2026-11-22\.parquet/);
    const stored = await store.get(key);
    const storedSha = sha256Hex(stored);
    // The stored file is the attempt's own features.parquet, with what it was made from in its footer.
    expect(first.data.artifacts.find((a: { name: string }) => a.name === 'features.parquet').sha256).toBe(storedSha);
    expect((await decodeFeatureTable(stored)).meta).toEqual({ featureset: 'fs1', symbol: 'BTCUSDT', date: '2026-11-22', timeframe: '1h', lookbackCandles: 600, source: 'files' });

    // No candles any more: the second job can only succeed on the stored features.
    unlinkSync(join(dataDir, 'BTCUSDT_1h.parquet'));
    await bus.publish('agent.assign', { spec: toJobSpec(definition('BTCUSDT', 'second', { ensureFeatures: true }), 1), lease: lease('lease-second') });
    const second = await outcome('lease-second');
    expect(second.subject).toBe('job.succeeded');
    const log = await attemptLog(second.data.artifactsPrefix);
    expect(log).toMatch(/features_loaded from features\/fs1\/BTCUSDT\/2026-11-22\.parquet/);
    expect(log).not.toMatch(/features_stored/);
    expect(second.data.metrics).toEqual(first.data.metrics);
    const sha = (d: { artifacts: { name: string; sha256: string }[] }, name: string) => d.artifacts.find((a) => a.name === name)!.sha256;
    for (const name of ['model.bin', 'features.parquet', 'split_indices.json', 'equity.json']) expect(sha(second.data, name)).toBe(sha(first.data, name));
    expect(sha256Hex(await store.get(key))).toBe(storedSha);

    // Without the flag and without stored features, a job computes them and stores nothing.
    await writeCandles('SOLUSDT');
    await bus.publish('agent.assign', { spec: toJobSpec(definition('SOLUSDT', 'plain'), 1), lease: lease('lease-plain') });
    expect((await outcome('lease-plain')).subject).toBe('job.succeeded');
    expect(await store.exists('features/fs1/SOLUSDT/2026-11-22.parquet')).toBe(false);
  });

  it('does not use stored features made for another lookback', async () => {
    await bus.publish('agent.assign', { spec: toJobSpec(definition('BTCUSDT', 'longer', { lookbackCandles: 650 }), 1), lease: lease('lease-longer') });
    const longer = await outcome('lease-longer');
    // The candle file is gone, so computing afresh fails: the stored 600-candle features were not taken.
    expect(longer.subject).toBe('job.failed');
    expect(longer.data).toMatchObject({ errorType: 'bad_data', retryable: false });
    expect(longer.data.message).toMatch(/no candles for BTCUSDT 1h/);
  });

  it('refuses corrupted candles with the reason, and stores no features from them', async () => {
    // A repeated candle in the middle of the file.
    await writeCandles('ETHUSDT', (candles) => [...candles.slice(0, 400), ...candles.slice(399)]);
    await bus.publish('agent.assign', { spec: toJobSpec(definition('ETHUSDT', 'corrupt', { ensureFeatures: true }), 1), lease: lease('lease-corrupt') });
    const failed = await outcome('lease-corrupt');
    expect(failed.subject).toBe('job.failed');
    expect(failed.data).toMatchObject({ errorType: 'bad_data', retryable: false });
    expect(failed.data.message).toMatch(/duplicate at \d+: openTime .* repeats the previous candle/);
    expect(await store.exists('features/fs1/ETHUSDT/2026-11-22.parquet')).toBe(false);
  });
});
