import { defaultCpuSlots } from './cpu-slots';
import { parseNvidiaSmi } from './gpu-probe';

describe('capacity', () => {
  it('parses nvidia-smi CSV', () => {
    const out = '0, NVIDIA H100 80GB HBM3, 81559, 1024, 37\n1, NVIDIA H100 80GB HBM3, 81559, 0, 0\n';
    expect(parseNvidiaSmi(out)).toEqual([
      { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryTotalMb: 81559, memoryUsedMb: 1024, utilization: 37 },
      { index: 1, name: 'NVIDIA H100 80GB HBM3', memoryTotalMb: 81559, memoryUsedMb: 0, utilization: 0 },
    ]);
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toEqual([]);
  });

  it('keeps cores free for the system', () => {
    expect(defaultCpuSlots(1)).toBe(1);
    expect(defaultCpuSlots(2)).toBe(1);
    expect(defaultCpuSlots(8)).toBe(7);
    expect(defaultCpuSlots(32)).toBe(30);
  });
});
