import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage } from '@trainyard/contracts';
import { Consume, NatsBus, runCommand } from '@trainyard/messaging';
import { OperatorActions } from '../runs/operator-actions.service';

const jobs = (n: number) => `${n} unfinished job${n === 1 ? '' : 's'}`;

/** Operators' commands from the bus (the Telegram bot, other systems), through the REST API's code path. */
@Controller()
export class SchedulerCommandsController {
  constructor(
    private readonly actions: OperatorActions,
    private readonly bus: NatsBus,
  ) {}

  @Consume('run.cancel')
  onRunCancel(@Payload() m: EventMessage<'run.cancel'>) {
    return runCommand(this.bus, 'run.cancel', m, async () => {
      const { cancelling } = await this.actions.cancelRun(m.runId, m.reason);
      return cancelling.length ? `run ${m.runId}: cancelling ${jobs(cancelling.length)}` : `run ${m.runId} has no unfinished jobs`;
    });
  }

  /**
   * job.cancel also reaches the broker and the agents, which stop what they hold. An operator's
   * cancel (it names who asked) is also the scheduler's to apply, so a job still waiting here is
   * cancelled too; the scheduler's own cancels (timeouts, stops) carry no requestedBy and are not.
   */
  @Consume('job.cancel')
  async onJobCancel(@Payload() m: EventMessage<'job.cancel'>) {
    if (!m.requestedBy) return;
    await runCommand(this.bus, 'job.cancel', m, async () => {
      const { status } = await this.actions.cancelJob(m.jobId, m.reason);
      return status === 'cancelled' ? `job ${m.jobId} cancelled` : `job ${m.jobId} was ${status}: its agent is stopping it`;
    });
  }

  @Consume('job.retry')
  onJobRetry(@Payload() m: EventMessage<'job.retry'>) {
    return runCommand(this.bus, 'job.retry', m, async () => {
      const { nextAttempt } = await this.actions.retryJob(m.jobId);
      return `job ${m.jobId} will run again as attempt ${nextAttempt}`;
    });
  }
}
