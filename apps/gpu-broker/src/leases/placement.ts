import type { GpuInfo } from '@trainyard/contracts';

export interface AgentCapacity {
  id: string;
  gpus: GpuInfo[];
  cpuSlots: number;
}

export interface SlotUsage {
  cpuJobs: number;
  /** Per GPU index: jobs placed and the GPU memory they declared. */
  gpus: Map<number, { jobs: number; memoryGb: number }>;
}

export interface PackingRules {
  maxJobsPerGpu: number;
  /** Fraction of each GPU's memory never promised to jobs. */
  memoryMargin: number;
}

export interface Placement {
  agentId: string;
  device: string;
}

export const emptyUsage = (): SlotUsage => ({ cpuJobs: 0, gpus: new Map() });

/**
 * Where a job fits: a GPU job goes to the GPU with the least memory left that still holds it
 * (best fit, so large GPUs stay free for large jobs); a CPU job to the agent with most free slots.
 * The declared memory of the jobs on a GPU never exceeds its memory less the margin.
 */
export function findPlacement(gpuMemoryGb: number, agents: AgentCapacity[], usage: Map<string, SlotUsage>, rules: PackingRules): Placement | null {
  if (gpuMemoryGb > 0) {
    let best: { placement: Placement; left: number } | null = null;
    for (const agent of agents) {
      const u = usage.get(agent.id) ?? emptyUsage();
      for (const gpu of agent.gpus) {
        const used = u.gpus.get(gpu.index) ?? { jobs: 0, memoryGb: 0 };
        const usable = (gpu.memoryTotalMb / 1024) * (1 - rules.memoryMargin);
        const left = usable - used.memoryGb - gpuMemoryGb;
        if (used.jobs >= rules.maxJobsPerGpu || left < 0) continue;
        if (!best || left < best.left) best = { placement: { agentId: agent.id, device: `gpu:${gpu.index}` }, left };
      }
    }
    return best?.placement ?? null;
  }
  let best: { agentId: string; free: number } | null = null;
  for (const agent of agents) {
    const free = agent.cpuSlots - (usage.get(agent.id)?.cpuJobs ?? 0);
    if (free > 0 && (!best || free > best.free)) best = { agentId: agent.id, free };
  }
  return best ? { agentId: best.agentId, device: 'cpu' } : null;
}

/** Whether any job could still be placed: a free CPU slot, or a GPU below its job limit with memory to promise. */
export function hasRoom(agents: AgentCapacity[], usage: Map<string, SlotUsage>, rules: PackingRules): boolean {
  return agents.some((agent) => {
    const u = usage.get(agent.id) ?? emptyUsage();
    if (agent.cpuSlots > u.cpuJobs) return true;
    return agent.gpus.some((gpu) => {
      const used = u.gpus.get(gpu.index) ?? { jobs: 0, memoryGb: 0 };
      return used.jobs < rules.maxJobsPerGpu && (gpu.memoryTotalMb / 1024) * (1 - rules.memoryMargin) - used.memoryGb > 0;
    });
  });
}

/** Records a placement in the usage map, so the next job of the same pass sees it. */
export function occupy(usage: Map<string, SlotUsage>, placement: Placement, gpuMemoryGb: number): void {
  const u = usage.get(placement.agentId) ?? emptyUsage();
  usage.set(placement.agentId, u);
  if (placement.device === 'cpu') {
    u.cpuJobs += 1;
    return;
  }
  const index = Number(placement.device.slice('gpu:'.length));
  const g = u.gpus.get(index) ?? { jobs: 0, memoryGb: 0 };
  u.gpus.set(index, { jobs: g.jobs + 1, memoryGb: g.memoryGb + gpuMemoryGb });
}
