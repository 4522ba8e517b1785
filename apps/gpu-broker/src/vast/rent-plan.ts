import { findPlacement, occupy, type AgentCapacity, type PackingRules, type SlotUsage } from '../leases/placement';

export interface RentPlanInput {
  /** GPU memory (GB, 0 for a CPU job) of each job waiting for a slot, in release order. */
  needs: number[];
  /** Agents of instances serving now, and what their leases hold. */
  serving: AgentCapacity[];
  usage: Map<string, SlotUsage>;
  /** Instances on their way (launches in flight), each expected to look like `fresh`. */
  comingUp: number;
  fresh: (id: string) => AgentCapacity;
  /** Instances that count against the limit now: serving, coming up, draining, being destroyed. */
  counted: number;
  maxInstances: number;
  rules: PackingRules;
}

/**
 * How many more instances to rent: the waiting jobs are placed, in order, first on what serves now,
 * then on what is coming up, and only those left over ask for new instances, which are packed as
 * full as the rules allow; never more than the limit leaves room for. A job no instance we may rent
 * could hold asks for none.
 */
export function instancesToRent(input: RentPlanInput): number {
  const usage = new Map([...input.usage].map(([id, u]) => [id, { cpuJobs: u.cpuJobs, gpus: new Map(u.gpus) }]));
  const agents = [...input.serving, ...Array.from({ length: input.comingUp }, (_, i) => input.fresh(`coming-${i}`))];
  let added = 0;
  for (const need of input.needs) {
    let placement = findPlacement(need, agents, usage, input.rules);
    if (!placement) {
      const fresh = input.fresh(`new-${added}`);
      placement = findPlacement(need, [fresh], usage, input.rules);
      if (!placement) continue;
      agents.push(fresh);
      added++;
    }
    occupy(usage, placement, need);
  }
  return Math.max(0, Math.min(added, input.maxInstances - input.counted));
}
