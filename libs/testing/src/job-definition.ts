import type { JobDefinition, Lease } from '@trainyard/contracts';

/** A valid job definition for tests; override what the test is about. */
export function testJobDefinition(overrides: Partial<JobDefinition> = {}): JobDefinition {
  const symbol = overrides.symbol ?? 'BTCUSDT';
  const runId = overrides.runId ?? 'run1';
  return {
    jobId: `${runId}-${symbol}`,
    runId,
    symbol,
    date: '2026-11-22',
    featureset: 'fs1',
    timeframe: '1h',
    lookbackCandles: 1000,
    model: { type: 'logistic', learningRate: 0.5, epochs: 5, seed: 1 },
    costs: { feeBps: 10, spreadBps: 2 },
    driver: { kind: 'builtin' },
    resources: { gpuMemoryGb: 0, cpus: 1 },
    timeoutMinutes: 45,
    priority: 'normal',
    purpose: 'production',
    ...overrides,
  };
}

/** A CPU lease on a local agent for an hour from now, as the broker grants one; override what the test is about. */
export function testLease(leaseId: string, agentId: string, overrides: Partial<Lease> = {}): Lease {
  return {
    leaseId,
    agentId,
    provider: 'local',
    device: 'cpu',
    gpuMemoryGb: 0,
    pricePerHour: 0,
    startedAt: new Date().toISOString(),
    endsBy: new Date(Date.now() + 3_600_000).toISOString(),
    ...overrides,
  };
}
