import { join } from 'node:path';
import { toJobSpec, type CheckpointRef, type JobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { S3ArtifactStore } from '@trainyard/storage';
import { readStored, startS3TestServer, testJobDefinition, testLease, TestService, waitFor, type S3TestServer } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { agentEnv } from '../config/agent.config';

jest.setTimeout(90_000);

/**
 * A retry whose latest checkpoint is corrupt resumes from the one before it: the agent on real NATS
 * with its artifacts on a real S3-protocol server, the built-in trainer checkpointing every 4 epochs;
 * the test plays the scheduler and the broker.
 */
describe('checkpoint fallback', () => {
  const svc = new TestService({ env: agentEnv, module: AppModule.forRoot, prefix: 'ckfall', database: false });
  const { prefix, dir } = svc;
  const agentId = `agent-${prefix}`;
  let s3: S3TestServer;
  let store: S3ArtifactStore;
  let bus: NatsBus;
  // ETHUSDT at this rate trains all 12 epochs: checkpoints after epochs 4 and 8.
  const first = toJobSpec(testJobDefinition({ symbol: 'ETHUSDT', runId: 'fallback', lookbackCandles: 600, model: { type: 'logistic', learningRate: 0.05, epochs: 12, seed: 3 } }), 1);
  let whole: any;
  let previous: CheckpointRef;
  let latest: CheckpointRef;

  beforeAll(async () => {
    s3 = await startS3TestServer();
    store = new S3ArtifactStore({ bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    const app = await svc.start({ ...s3.env, AGENT_ID: agentId, AGENT_WORK_DIR: join(dir, 'work'), AGENT_NVIDIA_SMI: 'none', AGENT_CPU_SLOTS: '2', AGENT_CHECKPOINT_EVERY_EPOCHS: '4' }, { agentId });
    bus = app.get(NatsBus);
  });

  afterAll(async () => {
    await svc.close();
    store?.close();
    await s3?.close();
  });

  const lease = (leaseId: string) => testLease(leaseId, agentId);
  const run = async (spec: JobSpec, leaseId: string) => {
    await bus.publish('agent.assign', { spec, lease: lease(leaseId) });
    return waitFor(async () => {
      for (const subject of ['job.succeeded', 'job.failed'] as const) {
        const hit = (await readStored(prefix, subject)).map((e) => e.data).find((d) => d.leaseId === leaseId);
        if (hit) return { subject, data: hit as any };
      }
      return undefined;
    }, `the outcome of ${leaseId}`);
  };
  const resumed = (attempt: number) =>
    waitFor(async () => (await readStored(prefix, 'job.resumed')).map((e) => e.data).find((d) => d.jobId === first.jobId && d.attempt === attempt), `job.resumed of attempt ${attempt}`);
  const attemptLog = async (artifactsPrefix: string) => (await store.get(`${artifactsPrefix}/attempt.log`)).toString('utf8');

  beforeAll(async () => {
    const outcome = await run(first, 'lease-whole');
    expect(outcome.subject).toBe('job.succeeded');
    whole = outcome.data;
    const checkpoints: CheckpointRef[] = (await readStored(prefix, 'job.checkpointed'))
      .map((e) => e.data)
      .filter((d) => d.jobId === first.jobId)
      .map((d) => d.checkpoint);
    expect(checkpoints.map((c) => c.key!.split('/').pop())).toEqual(['epoch-0004.json', 'epoch-0008.json']);
    previous = checkpoints[0]!;
    latest = checkpoints[1]!;
  });

  it('resumes from the previous checkpoint when the latest does not match its checksum, and says so', async () => {
    await store.put(latest.key!, Buffer.from('{"format":"damaged on the disk"}'));
    const retry: JobSpec = { ...first, attempt: 2, resumeFrom: latest, earlierCheckpoints: [previous] };
    const outcome = await run(retry, 'lease-fallback');
    expect(outcome.subject).toBe('job.succeeded');
    // Resumed after epoch 4, the model is the one the whole training made.
    expect(outcome.data.metrics).toEqual(whole.metrics);
    const event = await resumed(2);
    expect(event.checkpoint).toEqual(previous);
    expect(event.skipped).toEqual([{ checkpoint: latest, reason: expect.stringMatching(/^does not match its checksum/) }]);
    const log = await attemptLog(outcome.data.artifactsPrefix);
    expect(log).toContain(`checkpoint_skipped ${latest.key} does not match its checksum`);
    expect(log).toContain(`resume_fallback from ${previous.key}`);
    expect(log).toMatch(/resumed after epoch 4/);
    // It checkpointed again from there: epoch 8, not 4.
    const again = (await readStored(prefix, 'job.checkpointed')).map((e) => e.data).filter((d) => d.jobId === first.jobId && d.attempt === 2);
    expect(again.map((c) => c.checkpoint.key.split('/').pop())).toEqual(['epoch-0008.json']);
  });

  it('trains from the first epoch when none of the checkpoints checks out', async () => {
    const gone = { ...previous, key: `${previous.key!.replace('epoch-0004', 'epoch-0002')}` };
    const retry: JobSpec = { ...first, attempt: 3, resumeFrom: latest, earlierCheckpoints: [gone] };
    const outcome = await run(retry, 'lease-none');
    expect(outcome.subject).toBe('job.succeeded');
    expect(outcome.data.metrics).toEqual(whole.metrics);
    const event = await resumed(3);
    expect(event.checkpoint).toBeUndefined();
    expect(event.skipped.map((s: { reason: string }) => s.reason)).toEqual([expect.stringMatching(/^does not match its checksum/), 'is not in the store']);
    const log = await attemptLog(outcome.data.artifactsPrefix);
    expect(log).toContain("resume_none none of the job's 2 checkpoints checks out: training from the first epoch");
    expect(log).not.toMatch(/resumed after epoch/);
  });
});
