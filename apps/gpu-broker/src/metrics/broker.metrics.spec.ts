import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toJobSpec } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { readStored, scrapeMetrics, seriesValue, testJobDefinition, TestService, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { brokerEnv } from '../config/broker.config';

jest.setTimeout(60_000);

/** The broker's /metrics, from what its tables hold: an agent's GPUs, a lease, a rented instance. */
describe('gpu-broker metrics', () => {
  const svc = new TestService({ env: brokerEnv, module: AppModule.forRoot, prefix: 'bmet', listen: true });
  const { prefix } = svc;
  let app: INestApplication;
  let bus: NatsBus;
  let base: string;

  beforeAll(async () => {
    app = await svc.start({ BROKER_TICK_MS: '100', BROKER_LOCAL_PRICE_PER_HOUR: '0.5' });
    base = svc.url;
    bus = app.get(NatsBus);
  });

  afterAll(() => svc.close());

  it('reports GPUs per agent, leases alive, spend per hour and rented instances alive', async () => {
    const metric = async (name: string, labels: Record<string, string> = {}) => seriesValue(await scrapeMetrics(base), name, labels);
    expect(await metric('trainyard_leases_alive', { provider: 'local' })).toBe(0);
    expect(await metric('trainyard_instances_alive', { provider: 'vast', status: 'ready' })).toBe(0);

    const startedAt = new Date().toISOString();
    await bus.publish('agent.heartbeat', {
      agentId: 'gpu-box',
      host: 'box',
      provider: 'local',
      gpus: [{ index: 0, name: 'H100', memoryTotalMb: 80 * 1024, memoryUsedMb: 2048, utilization: 37 }],
      cpuSlots: 1,
      running: [],
      startedAt,
    });
    const definition = testJobDefinition({ symbol: 'AAAUSDT', runId: 'r1', driver: { kind: 'command', trainer: 'pytorch', args: [] }, resources: { gpuMemoryGb: 10, cpus: 1 } });
    await bus.publish('job.requested', { spec: toJobSpec(definition, 1) });
    await waitFor(async () => (await readStored(prefix, 'agent.gpu-box.assign')).length === 1, 'the job placed');

    const text = await scrapeMetrics(base);
    const gpu = { agent: 'gpu-box', gpu: '0', model: 'H100' };
    expect(seriesValue(text, 'trainyard_gpu_utilization_ratio', gpu)).toBeCloseTo(0.37, 5);
    expect(seriesValue(text, 'trainyard_gpu_memory_used_bytes', gpu)).toBe(2048 * 1024 * 1024);
    expect(seriesValue(text, 'trainyard_gpu_memory_total_bytes', gpu)).toBe(80 * 1024 * 1024 * 1024);
    expect(seriesValue(text, 'trainyard_agents_alive', { provider: 'local' })).toBe(1);
    expect(seriesValue(text, 'trainyard_leases_alive', { provider: 'local' })).toBe(1);
    expect(seriesValue(text, 'trainyard_spend_per_hour', { provider: 'local' })).toBe(0.5);

    // A rented instance as the Vast provider records it.
    await app.get(DataSource).query(
      `INSERT INTO broker.instances (id, label, boot_id, offer_id, status, gpu_name, num_gpus, gpu_memory_gb, price_per_hour, interruptible, created_at)
       VALUES ('i1', 'ty-test-i1', 'b1', 7, 'ready', 'RTX 4090', 1, 24, 0.42, false, now())`,
    );
    expect(await metric('trainyard_instances_alive', { provider: 'vast', status: 'ready' })).toBe(1);
    expect(await metric('trainyard_instances_spend_per_hour', { provider: 'vast' })).toBe(0.42);

    const assign = (await readStored(prefix, 'agent.gpu-box.assign'))[0]?.data;
    await bus.publish('job.cancelled', { jobId: assign.spec.jobId, runId: 'r1', symbol: 'AAAUSDT', attempt: 1, reason: 'test over' });
    await waitFor(async () => (await metric('trainyard_leases_alive', { provider: 'local' })) === 0, 'the lease gone from leases alive');
    expect(await metric('trainyard_spend_per_hour', { provider: 'local' })).toBe(0);
  });
});
