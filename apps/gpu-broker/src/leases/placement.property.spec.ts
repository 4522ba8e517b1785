import fc from 'fast-check';
import type { GpuInfo } from '@trainyard/contracts';
import { findPlacement, hasRoom, occupy, type AgentCapacity, type SlotUsage } from './placement';

const gpu = (index: number, memoryTotalMb: number): GpuInfo => ({ index, name: 'H100', memoryTotalMb, memoryUsedMb: 0, utilization: 0 });

describe('packing by declared GPU memory (property-based)', () => {
  it('never promises a GPU more than its memory less the margin, nor more jobs than the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 4_000, max: 81_920 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.double({ min: 0.1, max: 40, noNaN: true }), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 0.2, noNaN: true }),
        (agentGpus, jobs, maxJobsPerGpu, memoryMargin) => {
          const agents: AgentCapacity[] = agentGpus.map((mems, a) => ({ id: `a${a}`, gpus: mems.map((m, i) => gpu(i, m)), cpuSlots: 0 }));
          const usage = new Map<string, SlotUsage>();
          const rules = { maxJobsPerGpu, memoryMargin };
          let placed = 0;
          for (const need of jobs) {
            const p = findPlacement(need, agents, usage, rules);
            if (!p) {
              // Refused only when no GPU has both a free job slot and the memory.
              for (const agent of agents) {
                for (const g of agent.gpus) {
                  const used = usage.get(agent.id)?.gpus.get(g.index) ?? { jobs: 0, memoryGb: 0 };
                  const fits = used.jobs < maxJobsPerGpu && used.memoryGb + need <= (g.memoryTotalMb / 1024) * (1 - memoryMargin);
                  expect(fits).toBe(false);
                }
              }
              continue;
            }
            occupy(usage, p, need);
            placed++;
          }
          for (const agent of agents) {
            for (const g of agent.gpus) {
              const used = usage.get(agent.id)?.gpus.get(g.index) ?? { jobs: 0, memoryGb: 0 };
              expect(used.memoryGb).toBeLessThanOrEqual((g.memoryTotalMb / 1024) * (1 - memoryMargin) + 1e-9);
              expect(used.jobs).toBeLessThanOrEqual(maxJobsPerGpu);
            }
          }
          expect(placed).toBeLessThanOrEqual(jobs.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('says there is no room only when no job of any size, CPU or GPU, can be placed (a pass then reads no requests)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ mems: fc.array(fc.integer({ min: 4_000, max: 81_920 }), { maxLength: 3 }), cpuSlots: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 40, noNaN: true })), { maxLength: 60 }),
        fc.array(fc.oneof(fc.constant(0), fc.constant(0.01), fc.double({ min: 0.01, max: 80, noNaN: true })), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 6 }),
        (specs, placedFirst, probes, maxJobsPerGpu) => {
          const agents: AgentCapacity[] = specs.map((s, a) => ({ id: `a${a}`, gpus: s.mems.map((m, i) => gpu(i, m)), cpuSlots: s.cpuSlots }));
          const usage = new Map<string, SlotUsage>();
          const rules = { maxJobsPerGpu, memoryMargin: 0.05 };
          for (const need of placedFirst) {
            const p = findPlacement(need, agents, usage, rules);
            if (p) occupy(usage, p, need);
          }
          if (!hasRoom(agents, usage, rules)) for (const need of probes) expect(findPlacement(need, agents, usage, rules)).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('fits twelve 6 GB jobs on one 80 GB H100 and refuses a thirteenth at the cap', () => {
    const agents = [{ id: 'h100', gpus: [gpu(0, 81_559)], cpuSlots: 0 }];
    const usage = new Map<string, SlotUsage>();
    const rules = { maxJobsPerGpu: 12, memoryMargin: 0.05 };
    for (let i = 0; i < 12; i++) {
      expect(hasRoom(agents, usage, rules)).toBe(true);
      const p = findPlacement(6, agents, usage, rules);
      expect(p).toEqual({ agentId: 'h100', device: 'gpu:0' });
      occupy(usage, p!, 6);
    }
    expect(findPlacement(1, agents, usage, rules)).toBeNull();
    expect(hasRoom(agents, usage, rules)).toBe(false);
  });
});
