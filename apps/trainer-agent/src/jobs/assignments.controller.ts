import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { JobRunner } from './job-runner.service';

/** This agent's own work queue, and the cancel commands it may have to act on. */
@Controller()
export class AssignmentsController {
  private readonly log = new Logger('Assignments');

  constructor(
    private readonly runner: JobRunner,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
  ) {}

  /**
   * Taken 16 at a time: accepting only starts the attempt, and a burst's assignments then arrive in
   * one pull from the server, not one pull of four after another.
   */
  @Consume('agent.assign', { filter: 'agent.{agentId}.assign', concurrency: 16 })
  onAssign(@Payload() m: EventMessage<'agent.assign'>) {
    if (m.lease.agentId !== this.cfg.AGENT_ID) return;
    if (!this.runner.accept(m.spec, m.lease)) this.log.log(`lease ${m.lease.leaseId} already taken`);
  }

  /** A job's cancel, or the broker's fence of one lease (leaseId set): that lease stops and is never started. */
  @Consume('job.cancel', { durable: 'job.cancel.{agentId}' })
  onCancel(@Payload() m: EventMessage<'job.cancel'>) {
    if (this.runner.cancel(m)) this.log.warn(`cancelling ${m.leaseId ? `lease ${m.leaseId} of ` : ''}${m.jobId}: ${m.reason}`);
  }
}
