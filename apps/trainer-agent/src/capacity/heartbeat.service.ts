import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { cpus, hostname } from 'node:os';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { JobRunner } from '../jobs/job-runner.service';
import { defaultCpuSlots } from './cpu-slots';
import { GpuProbe } from './gpu-probe';

/** Tells the broker this agent is alive, what it has and what it runs; silence loses its leases. */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Heartbeat');
  private readonly startedAt: Date;
  private timer?: NodeJS.Timeout;
  /** When a heartbeat last reached the bus: how long this agent has been cut off. */
  lastDeliveredAt: Date;

  constructor(
    private readonly bus: NatsBus,
    private readonly gpus: GpuProbe,
    private readonly runner: JobRunner,
    private readonly clock: Clock,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
  ) {
    this.startedAt = clock.now();
    this.lastDeliveredAt = this.startedAt;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.cfg.AGENT_HEARTBEAT_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  cpuSlots(): number {
    return this.cfg.AGENT_CPU_SLOTS ?? defaultCpuSlots(cpus().length);
  }

  async beat(): Promise<void> {
    try {
      await this.bus.publish('agent.heartbeat', {
        agentId: this.cfg.AGENT_ID,
        host: hostname(),
        provider: this.cfg.AGENT_PROVIDER,
        gpus: await this.gpus.gpus(),
        cpuSlots: this.cpuSlots(),
        running: this.runner.runningAttempts(),
        startedAt: this.startedAt.toISOString(),
      });
      this.lastDeliveredAt = this.clock.now();
    } catch (err) {
      this.log.warn(`heartbeat not sent: ${(err as Error).message}`);
    }
  }
}
