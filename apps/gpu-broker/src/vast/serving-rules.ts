import type { InstanceStatus } from '@trainyard/contracts';

export interface ServingInput {
  status: Extract<InstanceStatus, 'ready' | 'busy' | 'draining'>;
  now: number;
  createdAt: number;
  /** When it last held a lease (or got ready). */
  lastBusyAt: number;
  /** The `endsBy` of each lease it holds. */
  leaseEnds: number[];
  maxRuntimeMs: number;
  idleMs: number;
}

export type ServingStep = { kind: 'destroy'; reason: 'max_runtime' | 'idle'; detail: string } | { kind: 'move'; to: 'draining' | 'busy' | 'ready'; detail: string } | { kind: 'stay' };

/**
 * What an instance that serves should do next, rules in order:
 * 1. Past its max runtime with no lease, or with a lease past its own timeout: destroy (max_runtime).
 * 2. Past its max runtime while holding leases: drain (no new work; a job's own timeout rules, so a
 *    12-hour job is not cut at the instance's runtime).
 * 3. Ready and now holding leases: busy. Busy and holding none: ready (idle from now).
 * 4. Ready with no lease for longer than the idle limit: destroy (idle).
 */
export function servingStep(i: ServingInput): ServingStep {
  const pastRuntime = i.now - i.createdAt > i.maxRuntimeMs;
  const overdue = i.leaseEnds.some((end) => end < i.now);
  const leases = i.leaseEnds.length;
  if (pastRuntime && (leases === 0 || overdue)) return { kind: 'destroy', reason: 'max_runtime', detail: overdue ? "past its max runtime and past its jobs' timeouts" : 'past its max runtime' };
  if (pastRuntime) return i.status === 'draining' ? { kind: 'stay' } : { kind: 'move', to: 'draining', detail: `past its max runtime: no new work, gone when its ${leases} jobs end` };
  if (leases > 0 && i.status === 'ready') return { kind: 'move', to: 'busy', detail: `${leases} leases` };
  if (leases === 0 && i.status === 'busy') return { kind: 'move', to: 'ready', detail: 'its leases ended' };
  if (i.status === 'ready' && i.now - i.lastBusyAt > i.idleMs) return { kind: 'destroy', reason: 'idle', detail: `no job for ${Math.round(i.idleMs / 1000)} s` };
  return { kind: 'stay' };
}
