import { startVastTestServer, type VastTestServer } from '@trainyard/testing';
import { Clock } from '@trainyard/runtime';
import type { HeartbeatService } from '../capacity/heartbeat.service';
import type { JobRunner } from '../jobs/job-runner.service';
import { agentEnv } from '../config/agent.config';
import { InstanceApi } from './instance-api';
import { InstanceGuard } from './instance-guard.service';

class FixedClock extends Clock {
  constructor(public at: Date) {
    super();
  }
  override now(): Date {
    return this.at;
  }
}

describe('an agent on a rented instance guarding against a leak', () => {
  let vast: VastTestServer;
  beforeAll(async () => {
    vast = await startVastTestServer({ loadingMs: 30 });
  });
  afterAll(async () => {
    await vast.close();
  });

  async function rented(): Promise<{ id: number; key: string }> {
    vast.setOffers([{ gpu_name: 'RTX 4090' }]);
    const search = (await (await fetch(`${vast.url}/api/v0/bundles/`, { method: 'POST', headers: { Authorization: `Bearer ${vast.apiKey}` }, body: '{}' })).json()) as {
      offers: Array<{ id: number }>;
    };
    const [offer] = search.offers;
    if (!offer) throw new Error('the Vast test server offered nothing to rent');
    const res = await fetch(`${vast.url}/api/v0/asks/${offer.id}/`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${vast.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: 'me', image: 'img', disk: 10, label: 'guard', runtype: 'ssh_direct' }),
    });
    const created = (await res.json()) as { new_contract: number; instance_api_key: string };
    return { id: created.new_contract, key: created.instance_api_key };
  }

  const runnerWith = (jobEndsBy: Date | null) => ({ latestEndsBy: () => jobEndsBy }) as JobRunner;
  const guardFor = (env: Record<string, string>, lastDeliveredAt: Date, now: Date, jobEndsBy: Date | null = null) => {
    const cfg = agentEnv.parse({ AGENT_PROVIDER: 'vast', VAST_API_URL: vast.url, ...env });
    const clock = new FixedClock(now);
    return { guard: new InstanceGuard({ lastDeliveredAt } as HeartbeatService, runnerWith(jobEndsBy), new InstanceApi(cfg), clock, cfg), clock };
  };

  it('destroys its own instance with the instance key once cut off from the bus for too long', async () => {
    const { id, key } = await rented();
    const t0 = new Date('2026-11-23T00:00:00Z');
    const { guard, clock } = guardFor({ CONTAINER_ID: String(id), CONTAINER_API_KEY: key, AGENT_ORPHAN_DESTROY_SECONDS: '600' }, t0, new Date(t0.getTime() + 599_000));
    expect(guard.armed).toBe(true);
    expect(guard.reason(clock.now())).toBeNull();
    await guard.check();
    expect(vast.alive().map((i) => i.id)).toContain(id);
    clock.at = new Date(t0.getTime() + 601_000);
    expect(guard.reason(clock.now())).toMatch(/no heartbeat reached the bus for 601 s/);
    await guard.check();
    expect(vast.alive().map((i) => i.id)).not.toContain(id);
    const deleted = vast.requests().filter((r) => r.method === 'DELETE' && r.path === `/api/v0/instances/${id}/`);
    expect(deleted.map((r) => r.authorized)).toEqual([true]);
  });

  it('destroys it past its deadline even while the bus answers', async () => {
    const { id, key } = await rented();
    const now = new Date('2026-11-23T06:00:01Z');
    const { guard } = guardFor({ CONTAINER_ID: String(id), CONTAINER_API_KEY: key, AGENT_DEADLINE: '2026-11-23T06:00:00Z' }, now, now);
    expect(guard.reason(now)).toMatch(/past its deadline/);
    await guard.check();
    expect(vast.alive().map((i) => i.id)).not.toContain(id);
  });

  it("lets a job with a long timeout run past the deadline, and goes once that job's own timeout has passed too", () => {
    const now = new Date('2026-11-23T06:00:01Z');
    const env = { CONTAINER_ID: '1', CONTAINER_API_KEY: 'k', AGENT_DEADLINE: '2026-11-23T06:00:00Z', AGENT_ORPHAN_DESTROY_SECONDS: '600' };
    const twelveHourJob = new Date('2026-11-23T12:00:00Z');
    expect(guardFor(env, now, now, twelveHourJob).guard.reason(now)).toBeNull();
    const after = new Date(twelveHourJob.getTime() + 601_000);
    expect(guardFor(env, after, after, twelveHourJob).guard.reason(after)).toMatch(/past its deadline/);
  });

  it('stays disarmed on a local agent or without the instance key', () => {
    const now = new Date();
    expect(guardFor({ AGENT_ORPHAN_DESTROY_SECONDS: '1' }, now, now).guard.armed).toBe(false);
    const local = agentEnv.parse({ AGENT_PROVIDER: 'local', CONTAINER_ID: '1', CONTAINER_API_KEY: 'k', AGENT_ORPHAN_DESTROY_SECONDS: '1' });
    expect(new InstanceGuard({ lastDeliveredAt: now } as HeartbeatService, runnerWith(null), new InstanceApi(local), new Clock(), local).armed).toBe(false);
  });
});
