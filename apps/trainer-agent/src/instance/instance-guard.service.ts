import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '@trainyard/runtime';
import { HeartbeatService } from '../capacity/heartbeat.service';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { JobRunner } from '../jobs/job-runner.service';
import { InstanceApi } from './instance-api';

const CHECK_EVERY_MS = 1000;

/**
 * The last line against a leaked GPU: on a rented instance, an agent cut off from the bus for too
 * long (its broker, which holds the tunnel, is gone for good) or past its deadline destroys its own
 * instance through Vast's API, with the per-instance key that can do nothing else.
 */
@Injectable()
export class InstanceGuard implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('InstanceGuard');
  private timer?: NodeJS.Timeout;
  private destroying = false;

  constructor(
    private readonly heartbeat: HeartbeatService,
    private readonly runner: JobRunner,
    private readonly api: InstanceApi,
    private readonly clock: Clock,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
  ) {}

  get armed(): boolean {
    return this.cfg.AGENT_PROVIDER === 'vast' && this.api.configured && (this.cfg.AGENT_ORPHAN_DESTROY_SECONDS > 0 || this.cfg.AGENT_DEADLINE !== undefined);
  }

  onApplicationBootstrap(): void {
    if (!this.armed) return;
    this.timer = setInterval(() => void this.check(), CHECK_EVERY_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Why the instance should go now, or null. */
  reason(now: Date): string | null {
    const cutOff = (now.getTime() - this.heartbeat.lastDeliveredAt.getTime()) / 1000;
    if (this.cfg.AGENT_ORPHAN_DESTROY_SECONDS > 0 && cutOff > this.cfg.AGENT_ORPHAN_DESTROY_SECONDS) return `no heartbeat reached the bus for ${Math.round(cutOff)} s`;
    if (this.cfg.AGENT_DEADLINE && now >= new Date(this.cfg.AGENT_DEADLINE)) {
      // A job's own timeout outranks the instance's runtime: a 12-hour job runs to its end (and a grace to report it).
      const jobEnds = this.runner.latestEndsBy();
      if (jobEnds && now.getTime() < jobEnds.getTime() + this.cfg.AGENT_ORPHAN_DESTROY_SECONDS * 1000) return null;
      return `past its deadline ${this.cfg.AGENT_DEADLINE}`;
    }
    return null;
  }

  async check(): Promise<void> {
    if (this.destroying) return;
    const why = this.reason(this.clock.now());
    if (!why) return;
    this.destroying = true;
    try {
      this.log.warn({ event: 'instance_self_destroy', instanceId: this.cfg.CONTAINER_ID, reason: why, msg: `destroying this instance: ${why}` });
      await this.api.destroySelf();
    } catch (err) {
      this.log.warn(`self-destroy failed, will try again: ${(err as Error).message}`);
    } finally {
      this.destroying = false;
    }
  }
}
