import { peakAlive, startVastTestServer, waitFor, type VastTestServer } from '@trainyard/testing';
import { SystemUnderTest } from './system-under-test';

jest.setTimeout(420_000);

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT', 'AVAXUSDT', 'DOTUSDT', 'LINKUSDT'];

describe('a ten-symbol run with no local capacity, on instances rented from the Vast API test server', () => {
  const sut = new SystemUnderTest();
  let vast: VastTestServer;

  beforeAll(async () => {
    vast = await startVastTestServer({
      loadingMs: 200,
      offers: [
        { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.35, dph_total: 0.36, storage_cost: 0.1, reliability: 0.99 },
        { gpu_name: 'RTX 4090', gpu_ram: 24564, dph_base: 0.4, dph_total: 0.41, storage_cost: 0.1, reliability: 0.99 },
        { gpu_name: 'RTX 3090', gpu_ram: 24576, dph_base: 0.2, dph_total: 0.21, storage_cost: 0.1, reliability: 0.99 },
        { gpu_name: 'H100 SXM', gpu_ram: 81559, dph_base: 2.5, dph_total: 2.6, storage_cost: 0.1, reliability: 0.99 },
      ],
    });
    await sut.start({
      AGENT_CPU_SLOTS: '0', // the local agent takes no work: everything must go to rented machines
      VAST_API_KEY: vast.apiKey,
      VAST_API_URL: vast.url,
      VAST_MAX_INSTANCES: '3',
      VAST_POLL_MS: '150',
      VAST_IDLE_SECONDS: '30',
      VAST_API_RETRY_BASE_MS: '20',
      VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=2,AGENT_NVIDIA_SMI=none,AGENT_HEARTBEAT_MS=500',
    });
  });

  afterAll(async () => {
    await sut.stop();
    expect(vast.alive()).toEqual([]);
    await vast.close();
  });

  it('rents at most three instances, trains through SSH on OpenSSH, destroys every one, costs the run as its leases and books the spend the bill shows', async () => {
    vast.rateLimitNext(2, 'bundles');
    await sut.bus.publish('run.requested', { runId: 'vast-e2e', trigger: 'cli', date: '2026-11-22', symbols: SYMBOLS, promote: 'off' });
    const completed = await sut.completion('vast-e2e', 360_000);
    expect(completed.summary).toMatchObject({ total_symbols: 10, succeeded: 10, failed: 0 });

    const leased = (await sut.events('job.leased')).map((e) => e.data).filter((d) => d.runId === 'vast-e2e');
    expect(leased.length).toBeGreaterThanOrEqual(10);
    expect(leased.every((l) => l.lease.provider === 'vast')).toBe(true);

    // The end of the run destroys the idle instances without waiting for the idle timeout.
    await waitFor(async () => vast.alive().length === 0, 'every rented instance destroyed', 90_000);
    const created = (await sut.events('instance.created')).map((e) => e.data);
    // The event follows the API's confirmation by a moment.
    const destroyed = await waitFor(async () => {
      const all = (await sut.events('instance.destroyed')).map((e) => e.data);
      return all.length === created.length ? all : null;
    }, 'an instance.destroyed for each instance');
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(created.length).toBeLessThanOrEqual(3);
    expect(destroyed.map((d) => d.instanceId).sort()).toEqual(created.map((c) => c.instanceId).sort());
    expect(vast.instances().every((i) => i.destroyedAt !== null)).toBe(true);
    // Cheapest first: the RTX 3090 is rented, and the dearest of the four offers is never needed.
    expect(created.map((c) => c.gpuName)).toContain('RTX 3090');
    expect(created.map((c) => c.gpuName)).not.toContain('H100 SXM');

    const released = (await sut.events('lease.released')).map((e) => e.data).filter((d) => d.jobId.startsWith('vast-e2e-'));
    const leaseCost = released.reduce((sum, r) => sum + r.cost, 0);
    expect(leaseCost).toBeGreaterThan(0);
    expect(completed.summary.cost).toBeCloseTo(leaseCost, 5);

    // Spend is what the account pays: boot, bootstrap and idle included, within 2% of the test server's bill.
    const billed = vast.bill().total;
    const spent = destroyed.reduce((sum, d) => sum + d.cost, 0);
    expect(Math.abs(spent - billed) / billed).toBeLessThan(0.02);
    expect(spent).toBeGreaterThan(leaseCost);
    // All of it is the run's, and the run's record says so once the last instance is gone.
    expect(destroyed.flatMap((d) => d.runs).reduce((sum, r) => sum + (r.runId === 'vast-e2e' ? r.cost : 0), 0)).toBeCloseTo(spent, 9);
    await waitFor(async () => {
      const run = (await (await fetch(`http://127.0.0.1:${sut.stack.portOf({ name: 'scheduler' })}/runs/vast-e2e`, { headers: { authorization: `Bearer ${sut.stack.apiToken}` } })).json()) as {
        spend?: number;
      };
      return Math.abs((run.spend ?? 0) - spent) < 1e-6;
    }, 'the run shows its spend');

    // Never more than VAST_MAX_INSTANCES alive at once, by the test server's own clock.
    expect(peakAlive(vast.instances())).toBeLessThanOrEqual(3);
  });
});
