import { Inject, Injectable, Logger } from '@nestjs/common';
import { MESSAGE_HEADER_ROOM, NatsBus, withTraceContext } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { RunRepository } from '../repositories/run.repository';
import type { RunEntity } from '../repositories/run.entity';
import { fitCompletion } from './message-fit';
import { runStatusOf, summarize } from './run-summary';

export const summaryKey = (runId: string) => `runs/${runId}/engine_summary.json`;

/** Closes a run when its last job is terminal: the summary to storage and to the bus, exactly once in effect. */
@Injectable()
export class CompletionService {
  private readonly log = new Logger('Completion');
  private readonly publishing = new Set<string>();

  constructor(
    private readonly runs: RunRepository,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
  ) {}

  async check(runId: string): Promise<void> {
    const now = this.clock.now();
    const run = await this.runs.close(runId, (r, jobs, spend) => {
      const summary = summarize(jobs, r.skipped, r.startedAt ?? r.createdAt, now, spend);
      return { summary, status: runStatusOf(summary), completedAt: now };
    });
    if (run) await this.publish(run);
  }

  /**
   * Also called by the reconciler for runs decided but not yet marked published (a crash cut the
   * publish short); one publish per run at a time here, or the reconciler repeats a handler's.
   */
  async publish(run: RunEntity): Promise<void> {
    const summary = run.summary;
    if (!summary || run.status === 'running' || run.status === 'planned' || this.publishing.has(run.id)) return;
    this.publishing.add(run.id);
    try {
      // The caller's copy may predate a publish that just finished.
      const fresh = await this.runs.find(run.id);
      if (!fresh || fresh.completionPublished || fresh.completedAt?.getTime() !== run.completedAt?.getTime()) return;
      await this.publishOnce(run, summary);
    } finally {
      this.publishing.delete(run.id);
    }
  }

  /** Writes the summary artifact again, after an instance.destroyed added spend to a published run; called under the run's lock. */
  async rewriteSummary(run: RunEntity): Promise<void> {
    if (run.summary) await this.putSummary(run, run.summary);
  }

  private putSummary(run: RunEntity, summary: NonNullable<RunEntity['summary']>) {
    const body = JSON.stringify({ run_id: run.id, date: run.date, status: run.status, ...summary }, null, 2);
    return this.artifacts.put(summaryKey(run.id), body, 'application/json');
  }

  private async publishOnce(run: RunEntity, summary: NonNullable<RunEntity['summary']>): Promise<void> {
    const put = await this.putSummary(run, summary);
    await withTraceContext(run.traceContext, () =>
      this.bus.publish(
        'run.completed',
        fitCompletion({ runId: run.id, requestId: run.request.id, date: run.date, status: run.status as 'succeeded', summary, summaryUri: put.uri }, this.bus.maxPayload - MESSAGE_HEADER_ROOM),
        // A retried job reopens a finished run; each completion is its own message.
        { id: `${run.id}-completed-${run.completedAt?.getTime() ?? 0}` },
      ),
    );
    // Spend recorded since the summary was put (an instance destroyed meanwhile) goes into the artifact too.
    await this.runs.markCompletionPublished(run.id, put.uri, async (stored) => {
      if (stored.summary && stored.completedAt?.getTime() === run.completedAt?.getTime() && stored.summary.spend !== summary.spend) await this.putSummary(stored, stored.summary);
    });
    const s = summary;
    // In the run's trace, whoever completed it (a handler, a reconcile), so the line leads to it.
    withTraceContext(run.traceContext, () =>
      this.log.log({
        event: 'run_completed',
        runId: run.id,
        date: run.date,
        status: run.status,
        succeeded: s.succeeded,
        failed: s.failed,
        skipped: s.skipped,
        summaryUri: put.uri,
        msg: `run ${run.id} ${run.status}: ${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} skipped, median ${s.median_train_minutes} min`,
      }),
    );
  }
}
