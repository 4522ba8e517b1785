import { Global, Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LIVE_INSTANCE_STATES, Priority, type GpuInfo } from '@trainyard/contracts';
import { MetricsModule, MetricsRegistry } from '@trainyard/runtime';

const ACTIVE_LEASES = `status IN ('assigned', 'running')`;
const PROVIDERS = ['local', 'vast'];
const MB = 1024 * 1024;

/**
 * The broker's series, all read from its tables when Prometheus scrapes: GPUs as the agents' last
 * heartbeats describe them, leases alive, rented instances alive, what the active leases cost per
 * hour and what the rented instances cost per hour (idle ones too). Every replica reports the
 * same values; aggregate them with max, not sum.
 */
@Injectable()
export class BrokerMetrics {
  constructor(metrics: MetricsRegistry, ds: DataSource) {
    // One read of the alive agents' GPUs serves the three GPU gauges of a scrape (their samples start together).
    type AgentGpus = { agent: string; gpus: GpuInfo[] };
    let gpuRead: Promise<AgentGpus[]> | null = null;
    const gpus = (): Promise<AgentGpus[]> => (gpuRead ??= ds.query(`SELECT id AS agent, gpus FROM broker.agents WHERE status = 'alive'`).finally(() => (gpuRead = null)));
    const perGpu = (value: (g: GpuInfo) => number) => async () =>
      (await gpus()).flatMap((a) => a.gpus.map((g) => ({ labels: { agent: a.agent, gpu: String(g.index), model: g.name }, value: value(g) })));
    const gpuLabels = ['agent', 'gpu', 'model'] as const;
    metrics.sampledGauge({
      name: 'trainyard_gpu_utilization_ratio',
      help: 'GPU utilization (0-1) per agent and GPU, from the last heartbeat',
      labelNames: gpuLabels,
      sample: perGpu((g) => g.utilization / 100),
    });
    metrics.sampledGauge({
      name: 'trainyard_gpu_memory_used_bytes',
      help: 'GPU memory in use per agent and GPU, from the last heartbeat',
      labelNames: gpuLabels,
      sample: perGpu((g) => g.memoryUsedMb * MB),
    });
    metrics.sampledGauge({
      name: 'trainyard_gpu_memory_total_bytes',
      help: 'GPU memory per agent and GPU, from the last heartbeat',
      labelNames: gpuLabels,
      sample: perGpu((g) => g.memoryTotalMb * MB),
    });

    const byProvider = (sql: string) => async () => {
      const rows: { provider: string; v: number }[] = await ds.query(sql);
      return rows.map((r) => ({ labels: { provider: r.provider }, value: Number(r.v) }));
    };
    const zeros = PROVIDERS.map((provider) => ({ provider }));
    metrics.sampledGauge({
      name: 'trainyard_agents_alive',
      help: 'Agents heard from recently, by provider',
      labelNames: ['provider'],
      zeros,
      sample: byProvider(`SELECT provider, count(*)::int AS v FROM broker.agents WHERE status = 'alive' GROUP BY provider`),
    });
    metrics.sampledGauge({
      name: 'trainyard_leases_alive',
      help: 'Leases assigned or running, by provider',
      labelNames: ['provider'],
      zeros,
      sample: byProvider(`SELECT provider, count(*)::int AS v FROM broker.leases WHERE ${ACTIVE_LEASES} GROUP BY provider`),
    });
    metrics.sampledGauge({
      name: 'trainyard_spend_per_hour',
      help: 'Price per hour of the leases assigned or running, by provider',
      labelNames: ['provider'],
      zeros,
      sample: byProvider(`SELECT provider, sum(price_per_hour)::float AS v FROM broker.leases WHERE ${ACTIVE_LEASES} GROUP BY provider`),
    });
    metrics.sampledGauge({
      name: 'trainyard_instances_alive',
      help: 'Rented instances not destroyed (creating to destroying), by provider and status',
      labelNames: ['provider', 'status'],
      zeros: LIVE_INSTANCE_STATES.map((status) => ({ provider: 'vast', status })),
      sample: async () => {
        const rows: { status: string; n: number }[] = await ds.query(`SELECT status, count(*)::int AS n FROM broker.instances WHERE status <> 'destroyed' GROUP BY status`);
        return rows.map((r) => ({ labels: { provider: 'vast', status: r.status }, value: r.n }));
      },
    });
    metrics.sampledGauge({
      name: 'trainyard_instances_spend_per_hour',
      help: 'Price per hour of the rented instances not destroyed, busy or idle',
      labelNames: ['provider'],
      zeros: [{ provider: 'vast' }],
      sample: async () => {
        const [{ v } = { v: null }]: { v: number | null }[] = await ds.query(`SELECT sum(price_per_hour)::float AS v FROM broker.instances WHERE status <> 'destroyed'`);
        return [{ labels: { provider: 'vast' }, value: Number(v ?? 0) }];
      },
    });
    metrics.sampledGauge({
      name: 'trainyard_lease_requests_waiting',
      help: 'Job attempts queued at the broker for a slot, by priority',
      labelNames: ['priority'],
      zeros: Priority.options.map((priority) => ({ priority })),
      sample: async () => {
        const rows: { priority: string; n: number }[] = await ds.query(`SELECT spec->>'priority' AS priority, count(*)::int AS n FROM broker.lease_requests WHERE status = 'pending' GROUP BY 1`);
        return rows.map((r) => ({ labels: { priority: r.priority }, value: r.n }));
      },
    });
  }
}

/** `GET /metrics` for the broker. */
@Global()
@Module({
  imports: [MetricsModule.forRoot({ service: 'gpu-broker' })],
  providers: [BrokerMetrics],
  exports: [BrokerMetrics],
})
export class BrokerMetricsModule {}
