import { Events, type EventMessage, type Metrics } from '@trainyard/contracts';
import type { ArtifactStore } from '@trainyard/storage';

export interface TrainedJob {
  store: ArtifactStore;
  symbol: string;
  jobId: string;
  metrics: Metrics;
  artifactsPrefix?: string;
}

/** Uploads an attempt's artifacts as the trainer does and returns the job.succeeded it would publish. */
export async function trainedJob(t: TrainedJob): Promise<EventMessage<'job.succeeded'>> {
  const artifactsPrefix = t.artifactsPrefix ?? `models/${t.symbol}/${t.jobId}`;
  const artifacts = [];
  for (const [name, body] of Object.entries({ 'model.bin': `weights of ${t.jobId}`, 'metrics.json': JSON.stringify(t.metrics) })) {
    const put = await t.store.put(`${artifactsPrefix}/${name}`, body);
    artifacts.push({ name, uri: put.uri, sha256: put.sha256, bytes: put.bytes });
  }
  return Events.JobSucceeded.schema.parse({
    schemaVersion: 1,
    id: `${t.jobId}-succeeded`,
    occurredAt: '2026-11-23T01:00:00Z',
    jobId: t.jobId,
    runId: 'daily-20261122',
    symbol: t.symbol,
    attempt: 1,
    agentId: 'local-1',
    leaseId: `lease-${t.jobId}`,
    date: '2026-11-22',
    featureset: 'fs1',
    costs: { feeBps: 10, spreadBps: 2 },
    artifactsPrefix,
    artifacts,
    metrics: t.metrics,
    evaluationWindow: { from: '2026-10-01T00:00:00Z', to: '2026-11-22T00:00:00Z', candles: 400 },
    trainSeconds: 4,
    startedAt: '2026-11-23T00:59:50Z',
    finishedAt: '2026-11-23T00:59:56Z',
  });
}
