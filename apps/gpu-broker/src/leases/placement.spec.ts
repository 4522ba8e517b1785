import type { GpuInfo } from '@trainyard/contracts';
import { emptyUsage, findPlacement, occupy, type AgentCapacity, type SlotUsage } from './placement';

const gpu = (index: number, gb: number): GpuInfo => ({ index, name: 'H100', memoryTotalMb: gb * 1024, memoryUsedMb: 0, utilization: 0 });
const rules = { maxJobsPerGpu: 12, memoryMargin: 0.05 };

describe('placement', () => {
  it('never promises a GPU more memory than it has, less the margin', () => {
    const agents: AgentCapacity[] = [{ id: 'a', gpus: [gpu(0, 80)], cpuSlots: 0 }];
    const usage = new Map<string, SlotUsage>();
    let placed = 0;
    for (;;) {
      const p = findPlacement(10, agents, usage, rules);
      if (!p) break;
      occupy(usage, p, 10);
      placed++;
    }
    expect(placed).toBe(7); // 80 GB * 0.95 = 76 GB holds seven 10 GB jobs
    expect(usage.get('a')!.gpus.get(0)!.memoryGb).toBeLessThanOrEqual(76);
  });

  it('caps the jobs on one GPU', () => {
    const agents: AgentCapacity[] = [{ id: 'a', gpus: [gpu(0, 80)], cpuSlots: 0 }];
    const usage = new Map<string, SlotUsage>();
    let placed = 0;
    while (findPlacement(0.5, agents, usage, { ...rules, maxJobsPerGpu: 3 })) {
      occupy(usage, findPlacement(0.5, agents, usage, { ...rules, maxJobsPerGpu: 3 })!, 0.5);
      placed++;
    }
    expect(placed).toBe(3);
  });

  it('fits the GPU with the least room left that still holds the job', () => {
    const agents: AgentCapacity[] = [{ id: 'a', gpus: [gpu(0, 80), gpu(1, 24)], cpuSlots: 0 }];
    expect(findPlacement(20, agents, new Map(), rules)).toEqual({ agentId: 'a', device: 'gpu:1' });
    expect(findPlacement(30, agents, new Map(), rules)).toEqual({ agentId: 'a', device: 'gpu:0' });
  });

  it('puts CPU jobs on the agent with most free slots, and none when all are taken', () => {
    const agents: AgentCapacity[] = [
      { id: 'a', gpus: [], cpuSlots: 1 },
      { id: 'b', gpus: [], cpuSlots: 2 },
    ];
    const usage = new Map<string, SlotUsage>([['b', { ...emptyUsage(), cpuJobs: 0 }]]);
    const first = findPlacement(0, agents, usage, rules)!;
    expect(first.agentId).toBe('b');
    occupy(usage, first, 0);
    occupy(usage, findPlacement(0, agents, usage, rules)!, 0);
    occupy(usage, findPlacement(0, agents, usage, rules)!, 0);
    expect(findPlacement(0, agents, usage, rules)).toBeNull();
  });
});
