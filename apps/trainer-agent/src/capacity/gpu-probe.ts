import { Inject, Injectable } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GpuInfo } from '@trainyard/contracts';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';

const run = promisify(execFile);

/** `nvidia-smi --query-gpu=index,name,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits` output. */
export function parseNvidiaSmi(csv: string): GpuInfo[] {
  return csv
    .split(/\r?\n/)
    .map((line) => line.split(',').map((c) => c.trim()))
    .filter((cols) => cols.length >= 5 && /^\d+$/.test(cols[0] ?? ''))
    .map(([index, name = '', total, used, util]) => ({
      index: Number(index),
      name,
      memoryTotalMb: Number(total) || 0,
      memoryUsedMb: Number(used) || 0,
      utilization: Math.min(100, Math.max(0, Number(util) || 0)),
    }));
}

/** The box's GPUs as nvidia-smi sees them; none where it is missing or fails. */
@Injectable()
export class GpuProbe {
  constructor(@Inject(AGENT_CONFIG) private readonly cfg: AgentConfig) {}

  async gpus(): Promise<GpuInfo[]> {
    if (this.cfg.AGENT_NVIDIA_SMI === 'none') return [];
    try {
      const { stdout } = await run(this.cfg.AGENT_NVIDIA_SMI, ['--query-gpu=index,name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits'], { timeout: 10_000 });
      return parseNvidiaSmi(stdout);
    } catch {
      return [];
    }
  }
}
