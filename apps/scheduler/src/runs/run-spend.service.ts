import { Injectable, Logger } from '@nestjs/common';
import type { EventMessage } from '@trainyard/contracts';
import { Clock } from '@trainyard/runtime';
import { CompletionService } from './completion.service';
import { RunSpendRepository } from '../repositories/run-spend.repository';

/**
 * Spend beside work: what the GPU provider billed for each destroyed instance, attributed to the runs
 * that caused it. Instances often go after their run completed (idle tail, run.completed triggers the
 * destroy), so a completed run's stored summary and its summary artifact are updated as spend arrives;
 * the run.completed already published keeps the spend known then.
 */
@Injectable()
export class RunSpendService {
  private readonly log = new Logger('RunSpend');

  constructor(
    private readonly spend: RunSpendRepository,
    private readonly completion: CompletionService,
    private readonly clock: Clock,
  ) {}

  async destroyed(m: EventMessage<'instance.destroyed'>): Promise<void> {
    const added = await this.spend.record(m, this.clock.now(), async (run) => {
      // Published already: the artifact says what the run's summary says. Not yet: the publish does it.
      if (run.completionPublished) await this.completion.rewriteSummary(run);
    });
    this.log.log({
      event: 'instance_spend',
      label: m.label,
      instanceId: m.instanceId,
      cost: m.cost,
      runs: m.runs,
      counted: added,
      msg: `instance ${m.instanceId} (${m.label}) ${m.reason}: $${m.cost.toFixed(4)} billed${added.length ? `, charged to ${added.join(', ')}` : m.runs.length ? ', already counted' : ', no run to charge'}`,
    });
  }
}
