import type { VastInstance, VastOffer, VastOfferQuery } from './vast.types';

export interface OfferRequirements {
  gpuTypes: string[];
  minGpuMemoryGb: number;
  numGpus: number;
  minReliability: number;
  maxPricePerHour: number;
  diskGb: number;
  interruptible: boolean;
}

/** The search body in the API's filter format; the API's own price filter is a first cut, `rankOffers` decides. */
export function offerQuery(req: OfferRequirements): VastOfferQuery {
  return {
    verified: { eq: true },
    rentable: { eq: true },
    rented: { eq: false },
    external: { eq: false },
    num_gpus: { eq: req.numGpus },
    gpu_ram: { gte: Math.round(req.minGpuMemoryGb * 1000) },
    reliability: { gte: req.minReliability },
    direct_port_count: { gte: 1 },
    disk_space: { gte: req.diskGb },
    ...(req.gpuTypes.length ? { gpu_name: { in: req.gpuTypes } } : {}),
    order: [['dph_total', 'asc']],
    type: req.interruptible ? 'bid' : 'on-demand',
    allocated_storage: req.diskGb,
    limit: 64,
  };
}

/**
 * What an instance from this offer costs per hour, as billed: compute (on-demand, or the minimum bid)
 * while it runs, and the disk it needs (storage_cost is $/GB/month) for as long as it exists.
 */
export function priceParts(offer: VastOffer, req: Pick<OfferRequirements, 'diskGb' | 'interruptible'>): { compute: number; storage: number } {
  const storage = (req.diskGb * (offer.storage_cost ?? 0)) / 30 / 24;
  if (req.interruptible && offer.min_bid != null) return { compute: offer.min_bid, storage };
  // Without dph_base, dph_total is the whole price for the searched disk.
  return offer.dph_base != null ? { compute: offer.dph_base, storage } : { compute: Math.max(0, offer.dph_total - storage), storage };
}

export function hourlyPrice(offer: VastOffer, req: Pick<OfferRequirements, 'diskGb' | 'interruptible'>): number {
  const { compute, storage } = priceParts(offer, req);
  return compute + storage;
}

export interface RankedOffer {
  offer: VastOffer;
  pricePerHour: number;
  storagePerHour: number;
}

/** Offers that meet every requirement, cheapest first; the API's filters are not trusted to have done it. */
export function rankOffers(offers: VastOffer[], req: OfferRequirements): RankedOffer[] {
  const wanted = new Set(req.gpuTypes.map((g) => g.toLowerCase()));
  return offers
    .filter((o) => o.num_gpus === req.numGpus)
    .filter((o) => o.gpu_ram >= req.minGpuMemoryGb * 1000)
    .filter((o) => (o.reliability2 ?? o.reliability ?? 0) >= req.minReliability)
    .filter((o) => wanted.size === 0 || wanted.has(o.gpu_name.toLowerCase()))
    .filter((o) => (o.direct_port_count ?? 1) >= 1)
    .filter((o) => !req.interruptible || o.min_bid != null)
    .map((offer) => {
      const { compute, storage } = priceParts(offer, req);
      return { offer, pricePerHour: compute + storage, storagePerHour: storage };
    })
    .filter((o) => o.pricePerHour <= req.maxPricePerHour)
    .sort((a, b) => a.pricePerHour - b.pricePerHour || a.offer.id - b.offer.id);
}

export type ProvisionState = { kind: 'pending' } | { kind: 'running'; host: string; port: number } | { kind: 'failed'; reason: string; outbid: boolean };

/** Reads where a new instance is: still coming up, reachable over SSH, or never going to run (destroy it, try another offer). */
export function provisionState(inst: VastInstance | null): ProvisionState {
  if (!inst) return { kind: 'failed', reason: 'the instance no longer exists', outbid: false };
  const status = inst.actual_status ?? null;
  const msg = inst.status_msg ?? '';
  if (/OCI runtime/i.test(msg)) return { kind: 'failed', reason: `container failed to start: ${msg}`.slice(0, 500), outbid: false };
  if (inst.intended_status === 'stopped' && inst.cur_state === 'stopped' && inst.next_state === 'stopped') return { kind: 'failed', reason: 'stopped by the host (outbid)', outbid: true };
  if (status === 'exited' || status === 'unknown' || status === 'offline' || status === 'stopped' || status === 'frozen') {
    return { kind: 'failed', reason: `status ${status}${msg ? `: ${msg}` : ''}`.slice(0, 500), outbid: false };
  }
  if (status !== 'running') return { kind: 'pending' };
  const direct = inst.ports?.['22/tcp']?.[0]?.HostPort;
  if (direct && inst.public_ipaddr) return { kind: 'running', host: inst.public_ipaddr.trim(), port: Number(direct) };
  if (inst.ssh_host && inst.ssh_port) return { kind: 'running', host: inst.ssh_host, port: inst.ssh_port };
  return { kind: 'pending' };
}
