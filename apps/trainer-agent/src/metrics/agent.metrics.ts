import { Global, Injectable, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { MetricsModule, MetricsRegistry } from '@trainyard/runtime';
import { JobRunner } from '../jobs/job-runner.service';

/**
 * The agent's own series: attempts running on it now. Its GPUs are reported by the broker, from the
 * heartbeats, for all agents at once (trainyard_gpu_*).
 */
@Injectable()
export class AgentMetrics {
  constructor(metrics: MetricsRegistry, moduleRef: ModuleRef) {
    metrics.sampledGauge({
      name: 'trainyard_agent_attempts_running',
      help: 'Job attempts running on this agent',
      sample: async () => {
        const runner = moduleRef.get(JobRunner, { strict: false });
        return [{ labels: {}, value: runner.runningAttempts().length }];
      },
    });
  }
}

/** `GET /metrics` for the trainer agent. */
@Global()
@Module({
  imports: [MetricsModule.forRoot({ service: 'trainer-agent' })],
  providers: [AgentMetrics],
  exports: [AgentMetrics],
})
export class AgentMetricsModule {}
