import type { EntityManager } from 'typeorm';
import type { QueryResponse } from '@trainyard/contracts';

export type InstanceView = QueryResponse<'leases.active'>['instances'][number];

/**
 * What leasing needs to know of rented instances, owned here and provided by vast/ (which rents
 * them), so leases/ never reads the renting side's tables and the two folders depend one way.
 */
export interface RentedInstances {
  /** Agents on instances placement may use (ready or busy; not booting, draining or being destroyed), with one GPU's price an hour. */
  placeableAgents(em: EntityManager): Promise<Map<string, number>>;
  /** Instances alive, oldest first, as the leases.active query shows them. */
  live(): Promise<InstanceView[]>;
  /** Median seconds from create to agent ready over the last 50 instances that got there; null before the first. */
  typicalProvisionSeconds(): Promise<number | null>;
}

export const RENTED_INSTANCES = Symbol('RENTED_INSTANCES');
