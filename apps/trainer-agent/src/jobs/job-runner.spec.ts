import type { INestApplication } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJobSpec, type JobDefinition, type Lease } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { bootTestApp, deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { agentEnv } from '../config/agent.config';

jest.setTimeout(60_000);

const definition = (symbol: string, featureset = 'fs1'): JobDefinition => ({
  jobId: `run1-${symbol}`,
  runId: 'run1',
  symbol,
  date: '2026-11-22',
  featureset,
  timeframe: '1h',
  lookbackCandles: 600,
  model: { type: 'logistic', learningRate: 0.5, epochs: 5, seed: 3 },
  costs: { feeBps: 10, spreadBps: 2 },
  driver: { kind: 'builtin' },
  resources: { gpuMemoryGb: 0, cpus: 1 },
  timeoutMinutes: 45,
  priority: 'normal',
  purpose: 'production',
  promote: 'off',
  canary: false,
});

/** The agent alone on real NATS and a real artifact folder; the test plays the broker. */
describe('trainer-agent', () => {
  const prefix = testPrefix('agent');
  const dir = mkdtempSync(join(tmpdir(), 'ty-agent-'));
  const agentId = `agent-${prefix}`;
  let app: INestApplication;
  let bus: NatsBus;

  beforeAll(async () => {
    const config = agentEnv.parse({
      NATS_URL: testNatsUrl(),
      TRAINYARD_PREFIX: prefix,
      AGENT_ID: agentId,
      ARTIFACTS_DIR: join(dir, 'artifacts'),
      AGENT_WORK_DIR: join(dir, 'work'),
      AGENT_HEARTBEAT_MS: '200',
      AGENT_NVIDIA_SMI: 'none',
      AGENT_CPU_SLOTS: '3',
    });
    app = await bootTestApp({ imports: [AppModule.forRoot(config)] }, { agentId });
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await app?.close();
    await deleteTestStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  const lease = (leaseId: string): Lease => ({
    leaseId,
    agentId,
    provider: 'local',
    device: 'cpu',
    gpuMemoryGb: 0,
    pricePerHour: 0,
    startedAt: new Date().toISOString(),
    endsBy: new Date(Date.now() + 3_600_000).toISOString(),
  });

  it('reports its capacity in heartbeats', async () => {
    const hb = await waitFor(async () => (await readStored(prefix, 'agent.heartbeat')).map((e) => e.data).find((d) => d.agentId === agentId), 'a heartbeat');
    expect(hb).toMatchObject({ provider: 'local', gpus: [], cpuSlots: 3, running: [] });
  });

  it('trains an assigned job once, uploads checked artifacts and reports success', async () => {
    const spec = toJobSpec(definition('BTCUSDT'), 1);
    await bus.publish('agent.assign', { spec, lease: lease('lease-ok') });
    await bus.publish('agent.assign', { spec, lease: lease('lease-ok') }, { id: 'a-redelivered-assign' });
    const done = await waitFor(async () => (await readStored(prefix, 'job.succeeded')).map((e) => e.data).find((d) => d.leaseId === 'lease-ok'), 'job.succeeded');
    expect(done).toMatchObject({ jobId: spec.jobId, attempt: 1, agentId, featureset: 'fs1', costs: spec.costs });
    expect(done.artifacts.map((a: { name: string }) => a.name).sort()).toEqual(
      ['config.json', 'job.json', 'metrics.json', 'model.bin', 'runtime.json', 'sha256.txt', 'split_indices.json', 'training_log.json'].sort(),
    );
    for (const a of done.artifacts) expect(createHash('sha256').update(readFileSync(fileURLToPath(a.uri))).digest('hex')).toBe(a.sha256);
    expect(JSON.parse(readFileSync(join(dir, 'work', done.artifactsPrefix, 'job.json'), 'utf8'))).toEqual(spec);
    const started = (await readStored(prefix, 'job.started')).filter((e) => e.data.leaseId === 'lease-ok');
    expect(started).toHaveLength(1);
  });

  it('reports a job it cannot train as a failure that is not worth retrying', async () => {
    await bus.publish('agent.assign', { spec: toJobSpec(definition('ETHUSDT', 'fs99'), 1), lease: lease('lease-bad') });
    const failed = await waitFor(async () => (await readStored(prefix, 'job.failed')).map((e) => e.data).find((d) => d.leaseId === 'lease-bad'), 'job.failed');
    expect(failed).toMatchObject({ errorType: 'trainer_error', retryable: false, symbol: 'ETHUSDT' });
    expect(failed.message).toMatch(/featureset/);
    expect(failed.stackSummary).toMatch(/at /);
  });
});
