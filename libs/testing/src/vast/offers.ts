import { matchesColumn, sortRows, type Row } from './query';
import type { VastTestOfferInput, VastTestScenario } from './types';

/** Memory (MB, as the API reports it) and compute capability ×100 of common Vast GPU names. */
const RTX_4090 = { ram: 24564, cc: 890 };
const GPUS: Record<string, { ram: number; cc: number }> = {
  'RTX 4090': RTX_4090,
  'RTX 3090': { ram: 24576, cc: 860 },
  'RTX A5000': { ram: 24564, cc: 860 },
  L40S: { ram: 46068, cc: 890 },
  'A100 PCIE': { ram: 40960, cc: 800 },
  'A100 SXM4': { ram: 81920, cc: 800 },
  'H100 PCIE': { ram: 81559, cc: 900 },
  'H100 SXM': { ram: 81559, cc: 900 },
  H200: { ram: 143771, cc: 900 },
  'Tesla V100': { ram: 16384, cc: 700 },
};

export interface Offer {
  id: number;
  machineId: number;
  hostId: number;
  gpuName: string;
  numGpus: number;
  gpuRam: number;
  dphTotal: number | null;
  dphBase: number;
  storageCost: number;
  minBid: number | null;
  reliability: number;
  reliability2: number;
  verified: boolean;
  rentable: boolean;
  rented: boolean;
  directPortCount: number;
  cudaMaxGood: number;
  computeCap: number;
  diskSpace: number;
  cpuCores: number;
  cpuCoresEffective: number;
  cpuRam: number;
  inetDown: number;
  geolocation: string;
  isBid: boolean;
  scenario: VastTestScenario;
  outbidAfterMs: number | undefined;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export function makeOffer(input: VastTestOfferInput, id: number): Offer {
  const gpu = GPUS[input.gpu_name ?? 'RTX 4090'] ?? RTX_4090;
  const dphBase = input.dph_base ?? 0.35;
  const reliability = input.reliability ?? 0.995;
  return {
    id,
    machineId: 10_000 + (id % 90_000),
    hostId: 100 + (id % 900),
    gpuName: input.gpu_name ?? 'RTX 4090',
    numGpus: input.num_gpus ?? 1,
    gpuRam: input.gpu_ram ?? gpu.ram,
    dphTotal: input.dph_total ?? null,
    dphBase,
    storageCost: input.storage_cost ?? 0.15,
    minBid: input.min_bid === undefined ? round(dphBase * 0.5) : input.min_bid,
    reliability,
    reliability2: input.reliability2 ?? reliability,
    verified: input.verified ?? true,
    rentable: input.rentable ?? true,
    rented: input.rented ?? false,
    directPortCount: input.direct_port_count ?? 100,
    cudaMaxGood: input.cuda_max_good ?? 12.8,
    computeCap: input.compute_cap ?? gpu.cc,
    diskSpace: input.disk_space ?? 200,
    cpuCores: input.cpu_cores ?? 32,
    cpuCoresEffective: input.cpu_cores_effective ?? 16,
    cpuRam: input.cpu_ram ?? 128_000,
    inetDown: input.inet_down ?? 800,
    geolocation: input.geolocation ?? 'Oslo, NO',
    isBid: input.is_bid ?? false,
    scenario: input.scenario ?? 'normal',
    outbidAfterMs: input.outbidAfterMs,
  };
}

/** $/h for `diskGb` of storage at the offer's $/GB/month. */
export function storagePerHour(offer: Offer, diskGb: number): number {
  return (offer.storageCost * diskGb) / 30 / 24;
}

/** The offer's total $/h with `diskGb` allocated, unless the test fixed dph_total. */
export function offerDphTotal(offer: Offer, diskGb: number): number {
  return offer.dphTotal ?? round(offer.dphBase + storagePerHour(offer, diskGb));
}

/** The offer as POST /bundles/ returns it (VAST.md 1.3 field names and units). */
export function offerRow(offer: Offer, allocatedStorage: number): Row {
  const dphTotal = offerDphTotal(offer, allocatedStorage);
  const storageTotal = round(storagePerHour(offer, allocatedStorage));
  return {
    id: offer.id,
    ask_contract_id: offer.id,
    bundle_id: offer.id,
    machine_id: offer.machineId,
    host_id: offer.hostId,
    num_gpus: offer.numGpus,
    gpu_name: offer.gpuName,
    gpu_ram: offer.gpuRam,
    gpu_total_ram: offer.gpuRam * offer.numGpus,
    gpu_frac: 1,
    gpu_arch: 'nvidia',
    cpu_cores: offer.cpuCores,
    cpu_cores_effective: offer.cpuCoresEffective,
    cpu_ram: offer.cpuRam,
    cpu_arch: 'amd64',
    disk_space: offer.diskSpace,
    storage_cost: offer.storageCost,
    storage_total_cost: storageTotal,
    dph_base: offer.dphBase,
    dph_total: dphTotal,
    discounted_dph_total: dphTotal,
    min_bid: offer.minBid,
    is_bid: offer.isBid,
    reliability: offer.reliability,
    reliability2: offer.reliability2,
    score: round((offer.reliability2 * 100) / Math.max(dphTotal, 0.001)),
    geolocation: offer.geolocation,
    public_ipaddr: '127.0.0.1',
    direct_port_count: offer.directPortCount,
    inet_up: Math.round(offer.inetDown * 0.6),
    inet_down: offer.inetDown,
    cuda_max_good: offer.cudaMaxGood,
    driver_version: '570.124.06',
    compute_cap: offer.computeCap,
    verification: offer.verified ? 'verified' : 'unverified',
    verified: offer.verified,
    external: false,
    datacenter: false,
    hosting_type: 0,
    static_ip: false,
    rentable: offer.rentable,
    rented: offer.rented,
    start_date: null,
    end_date: Date.now() / 1000 + 30 * 86_400,
    duration: 30 * 86_400,
    search: { gpuCostPerHour: offer.dphBase, diskHour: storageTotal, totalHour: dphTotal },
    instance: { gpuCostPerHour: offer.dphBase, diskHour: storageTotal, totalHour: dphTotal },
  };
}

const CONTROL_KEYS = new Set(['order', 'type', 'limit', 'allocated_storage']);
const ALIASES: Record<string, string> = { cuda_vers: 'cuda_max_good', dph: 'dph_total' };

/** POST /bundles/: filters on known columns (unknown ones ignored, as the API does for most), order, type, limit. */
export function searchOffers(offers: Offer[], body: Record<string, unknown>): Row[] {
  const allocated = typeof body.allocated_storage === 'number' ? body.allocated_storage : 8;
  const bid = body.type === 'bid' || body.type === 'interruptible';
  let rows = offers.filter((o) => !o.rented && (!bid || o.minBid !== null)).map((o) => offerRow(o, allocated));
  for (const [key, condition] of Object.entries(body)) {
    if (CONTROL_KEYS.has(key)) continue;
    const col = ALIASES[key] ?? key;
    const [first] = rows;
    if (first && !(col in first)) continue;
    rows = rows.filter((r) => matchesColumn(r[col], condition));
  }
  rows = sortRows(rows, parseOrder(body.order));
  return typeof body.limit === 'number' && body.limit > 0 ? rows.slice(0, body.limit) : rows;
}

function parseOrder(order: unknown): Array<[string, 'asc' | 'desc']> {
  if (!Array.isArray(order) || order.length === 0) return [['score', 'desc']];
  // A single pair may come unwrapped.
  const pairs = typeof order[0] === 'string' ? [order] : order;
  return pairs.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string').map(([col, dir]) => [ALIASES[col] ?? col, dir === 'desc' ? 'desc' : 'asc']);
}
