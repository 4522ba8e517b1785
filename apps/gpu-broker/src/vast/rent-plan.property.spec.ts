import fc from 'fast-check';
import type { AgentCapacity, SlotUsage } from '../leases/placement';
import { instancesToRent } from './rent-plan';

const fresh =
  (gpuGb: number, cpuSlots: number) =>
  (id: string): AgentCapacity => ({
    id,
    gpus: [{ index: 0, name: 'planned', memoryTotalMb: gpuGb * 1024, memoryUsedMb: 0, utilization: 0 }],
    cpuSlots,
  });

describe('how many instances to rent (property-based)', () => {
  const rules = { maxJobsPerGpu: 4, memoryMargin: 0.05 };

  it('never rents past VAST_MAX_INSTANCES, and rents nothing while what serves or is coming up can take every waiting job', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.5, max: 20, noNaN: true })), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 8 }),
        (needs, servingCount, comingUp, extraCounted, maxInstances) => {
          const shape = fresh(24, 2);
          const serving = Array.from({ length: servingCount }, (_, i) => shape(`s${i}`));
          const counted = servingCount + comingUp + extraCounted;
          const input = { needs, serving, usage: new Map<string, SlotUsage>(), comingUp, fresh: shape, counted, maxInstances, rules };
          const n = instancesToRent(input);
          expect(n).toBeGreaterThanOrEqual(0);
          expect(counted + n <= Math.max(maxInstances, counted)).toBe(true);
          // What a plan with unlimited room finds nothing for, a limited one rents nothing for.
          const unlimited = instancesToRent({ ...input, maxInstances: 1000, counted: 0 });
          if (unlimited === 0) expect(n).toBe(0);
          // Enough instances serving to take every job alone: nothing to rent.
          const roomy = Array.from({ length: needs.length }, (_, i) => shape(`r${i}`));
          expect(instancesToRent({ ...input, serving: roomy, maxInstances: 1000, counted: 0 })).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rents for jobs left over after what is coming up, packed as the rules allow, and not for a job no instance could hold', () => {
    const shape = fresh(24, 2);
    const base = { serving: [], usage: new Map<string, SlotUsage>(), fresh: shape, counted: 0, maxInstances: 10, rules };
    expect(instancesToRent({ ...base, needs: [0, 0, 0, 0, 0], comingUp: 0 })).toBe(3);
    expect(instancesToRent({ ...base, needs: [0, 0, 0, 0, 0], comingUp: 2 })).toBe(1);
    expect(instancesToRent({ ...base, needs: [10, 10, 10], comingUp: 0 })).toBe(2);
    expect(instancesToRent({ ...base, needs: [40], comingUp: 0 })).toBe(0);
    expect(instancesToRent({ ...base, needs: [0, 0, 0, 0, 0], comingUp: 0, counted: 9 })).toBe(1);
  });
});
