import { join } from 'node:path';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { startVastTestServer, testJobDefinition, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';
import { InstanceStore } from '../vast/instance.store';

export interface BenchResult {
  value: number;
  unit: string;
  target: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Time from a rented instance running to its agent ready (SSH in, agent and Node copied, tunnel,
 * first heartbeat), on loopback against the Vast test server's OpenSSH instances. The first
 * instance also pays for compressing Node once; the others show a broker that has done so.
 */
export async function runBrokerBench(): Promise<Record<string, BenchResult>> {
  const vast = await startVastTestServer({ loadingMs: 100, offers: [{ gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.3, storage_cost: 0.1, reliability: 0.99 }] });
  const svc = new TestService({ env: brokerEnv, module: AppModule.forRoot, prefix: 'bench-vast' });
  const app = await svc.start({
    DATA_DIR: svc.dir,
    ARTIFACTS_DIR: join(svc.dir, 'artifacts'),
    BROKER_TICK_MS: '100',
    VAST_API_KEY: vast.apiKey,
    VAST_API_URL: vast.url,
    VAST_POLL_MS: '50',
    VAST_IDLE_SECONDS: '1',
    VAST_MAX_INSTANCES: '1',
    VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=1,AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=200',
  });
  const seconds: number[] = [];
  const seen = new Set<string>();
  try {
    const store = app.get(InstanceStore);
    for (let i = 0; i < 4; i++) {
      await app.get(NatsBus).publish('job.requested', { spec: toJobSpec(testJobDefinition({ symbol: `B${i}USDT`, runId: 'bench', resources: { gpuMemoryGb: 0, cpus: 1 } }), 1) });
      const row = await waitFor(
        async () => (await store.withStatus(['ready', 'busy', 'draining', 'destroying', 'destroyed'])).find((r) => r.readyAt && !seen.has(r.id)),
        `instance ${i} ready`,
        180_000,
      );
      seen.add(row.id);
      seconds.push((row.readyAt!.getTime() - row.runningSince!.getTime()) / 1000);
      await waitFor(async () => vast.alive().length === 0, `instance ${i} destroyed`, 60_000);
    }
  } finally {
    await svc.close();
    await vast.close();
  }
  const [cold, ...warm] = seconds;
  const warmMedian = median(warm);
  if (cold === undefined || warmMedian === undefined) throw new Error(`${seconds.length} instances timed, 2 at least wanted`);
  return {
    vast_bootstrap_cold_s: { value: Math.round(cold * 100) / 100, unit: 's', target: '< 10 s on loopback (first instance: Node compressed once)' },
    vast_bootstrap_s: { value: Math.round(warmMedian * 100) / 100, unit: 's', target: '< 10 s on loopback (running → agent ready)' },
  };
}
