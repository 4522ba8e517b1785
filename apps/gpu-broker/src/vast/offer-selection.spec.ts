import { hourlyPrice, offerQuery, provisionState, rankOffers, type OfferRequirements } from './offer-selection';
import type { VastOffer } from './vast.types';

const req: OfferRequirements = { gpuTypes: [], minGpuMemoryGb: 16, numGpus: 1, minReliability: 0.95, maxPricePerHour: 1, diskGb: 20, interruptible: false };
const offer = (o: Partial<VastOffer> & { id: number }): VastOffer => ({
  gpu_name: 'RTX 4090',
  num_gpus: 1,
  gpu_ram: 24564,
  dph_total: 0.4,
  dph_base: 0.38,
  storage_cost: 0.1,
  min_bid: 0.2,
  reliability: 0.99,
  direct_port_count: 4,
  ...o,
});

describe('offer selection', () => {
  it('asks the API in its filter format: GPU memory in MB, names with spaces, cheapest first', () => {
    const q = offerQuery({ ...req, gpuTypes: ['RTX 4090', 'H100 SXM'] });
    expect(q).toMatchObject({
      gpu_ram: { gte: 16000 },
      gpu_name: { in: ['RTX 4090', 'H100 SXM'] },
      reliability: { gte: 0.95 },
      rented: { eq: false },
      type: 'on-demand',
      order: [['dph_total', 'asc']],
    });
    expect(offerQuery({ ...req, interruptible: true }).type).toBe('bid');
  });

  it('prices an offer by compute plus the disk it needs, and a bid by the minimum bid', () => {
    expect(hourlyPrice(offer({ id: 1 }), req)).toBeCloseTo(0.38 + (20 * 0.1) / 30 / 24, 10);
    expect(hourlyPrice(offer({ id: 1 }), { ...req, interruptible: true })).toBeCloseTo(0.2 + (20 * 0.1) / 30 / 24, 10);
    expect(hourlyPrice(offer({ id: 1, dph_base: null }), req)).toBeCloseTo(0.4, 12);
  });

  it('keeps only offers meeting every requirement, cheapest total first', () => {
    const ranked = rankOffers(
      [
        offer({ id: 1, dph_base: 0.5 }),
        offer({ id: 2, dph_base: 0.3, storage_cost: 2 }), // cheap compute, dear disk: 0.3 + 0.056
        offer({ id: 3, dph_base: 0.31 }),
        offer({ id: 4, gpu_ram: 12000, dph_base: 0.1 }),
        offer({ id: 5, reliability: 0.5, dph_base: 0.1 }),
        offer({ id: 6, num_gpus: 2, dph_base: 0.1 }),
        offer({ id: 7, dph_base: 3 }),
      ],
      req,
    );
    expect(ranked.map((r) => r.offer.id)).toEqual([3, 2, 1]);
    expect(rankOffers([offer({ id: 1, gpu_name: 'RTX 3090' })], { ...req, gpuTypes: ['RTX 4090'] })).toEqual([]);
  });

  it('reads provisioning states the way the API reports them', () => {
    expect(provisionState(null)).toMatchObject({ kind: 'failed' });
    expect(provisionState({ id: 1, actual_status: null })).toEqual({ kind: 'pending' });
    expect(provisionState({ id: 1, actual_status: 'loading' })).toEqual({ kind: 'pending' });
    expect(provisionState({ id: 1, actual_status: 'running', public_ipaddr: '1.2.3.4 ', ports: { '22/tcp': [{ HostPort: '40022' }] } })).toEqual({ kind: 'running', host: '1.2.3.4', port: 40022 });
    expect(provisionState({ id: 1, actual_status: 'running', ssh_host: 'ssh5.vast.ai', ssh_port: 1234, ports: null })).toEqual({ kind: 'running', host: 'ssh5.vast.ai', port: 1234 });
    for (const s of ['exited', 'unknown', 'offline']) expect(provisionState({ id: 1, actual_status: s })).toMatchObject({ kind: 'failed', outbid: false });
    expect(provisionState({ id: 1, actual_status: 'created', status_msg: 'Error: OCI runtime create failed: nvidia-container-cli' })).toMatchObject({ kind: 'failed' });
    expect(provisionState({ id: 1, actual_status: 'stopped', intended_status: 'stopped', cur_state: 'stopped', next_state: 'stopped' })).toMatchObject({ kind: 'failed', outbid: true });
  });
});
