import { startVastTestServer, type VastTestServer } from '@trainyard/testing';
import { brokerEnv } from '../config/broker.config';
import { VastApi, VastAuthError } from './vast-api';

describe('VastApi against the Vast API test server', () => {
  let vast: VastTestServer;
  const api = (env: Record<string, string> = {}) => new VastApi(brokerEnv.parse({ VAST_API_KEY: vast.apiKey, VAST_API_URL: vast.url, VAST_API_RETRY_BASE_MS: '5', ...env }));

  beforeAll(async () => {
    vast = await startVastTestServer({ loadingMs: 50 });
  });
  afterAll(async () => {
    await vast.close();
  });

  it('retries 429 answers sent without Retry-After, and 5xx, until the call goes through', async () => {
    vast.setOffers([{ gpu_name: 'RTX 4090', dph_base: 0.3 }]);
    vast.rateLimitNext(3);
    vast.failNext(2, 503);
    expect(await api().searchOffers({ rented: { eq: false } })).toHaveLength(1);
    vast.rateLimitNext(5);
    await expect(api({ VAST_API_RETRIES: '2' }).searchOffers({})).rejects.toThrow(/429/);
  });

  it('stops on a refused key with a message that names the variable and never the key', async () => {
    const bad = api({ VAST_API_KEY: 'not-the-key-0123456789' });
    const err = await bad.listInstances().catch((e: Error) => e);
    expect(err).toBeInstanceOf(VastAuthError);
    expect((err as Error).message).toMatch(/VAST_API_KEY/);
    expect((err as Error).message).not.toContain('not-the-key-0123456789');
    expect(vast.requests().filter((r) => !r.authorized).length).toBeGreaterThan(0);
  });

  it('lists every instance through the paginated v1 list, shows one, and destroys idempotently', async () => {
    vast.setOffers(Array.from({ length: 30 }, (_, i) => ({ gpu_name: 'RTX 3090', dph_base: 0.1 + i / 100 })));
    const client = api();
    const offers = await client.searchOffers({});
    const ids: number[] = [];
    for (const o of offers) {
      const created = await client.createInstance(o.id, { image: 'img', disk: 10, label: `trainyard.list.${o.id}`, env: {}, onstart: '', runtype: 'ssh_direct' });
      expect(created.ok).toBe(true);
      if (created.ok) ids.push(created.instanceId);
    }
    const listed = await client.listInstances();
    expect(listed.map((i) => i.id).sort()).toEqual([...ids].sort());
    const [firstId] = ids;
    const [firstOffer] = offers;
    if (firstId === undefined || !firstOffer) throw new Error('no instance created');
    expect((await client.showInstance(firstId))?.label).toBe(`trainyard.list.${firstOffer.id}`);
    for (const id of ids) expect((await client.destroyInstance(id)).outcome).toBe('destroyed');
    expect((await client.destroyInstance(firstId)).outcome).toBe('already_gone');
    expect(await client.showInstance(firstId)).toBeNull();
    expect(vast.alive()).toEqual([]);
  });

  it('reports a vanished offer as a refused create with no instance to clean up', async () => {
    vast.setOffers([{ gpu_name: 'RTX 4090', dph_base: 0.3, scenario: 'vanished' }]);
    const [offer] = await api().searchOffers({});
    if (!offer) throw new Error('the vanished offer is not listed');
    const created = await api().createInstance(offer.id, { image: 'img', disk: 10, label: 'trainyard.x.y', env: {}, onstart: '', runtype: 'ssh_direct' });
    expect(created).toMatchObject({ ok: false, instanceId: null });
    if (!created.ok) expect(created.error.message).toMatch(/no_such_ask/);
  });
});
