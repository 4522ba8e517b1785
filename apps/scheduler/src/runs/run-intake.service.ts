import { Inject, Injectable, Logger } from '@nestjs/common';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { dailyRunId, defaultDataDate, requestDifferences, sha256Hex, trainingHash, type EventMessage } from '@trainyard/contracts';
import { CapacityView, captureTraceContext, MESSAGE_HEADER_ROOM, NatsBus, PermanentError } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { CostsService } from '../costs/costs.service';
import { ExchangeUnavailableError } from '../exchange/exchange-client';
import { UniverseService } from '../symbols/universe.service';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import type { JobEntity } from '../repositories/job.entity';
import { JobRepository } from '../repositories/job.repository';
import { LedgerRepository } from '../repositories/ledger.repository';
import type { RunEntity } from '../repositories/run.entity';
import { RunRepository } from '../repositories/run.repository';
import { compareRelease } from '../repositories/release-order';
import { fitPlan } from './message-fit';
import { concurrencyFor, gpuMemoryFor, planJobs } from './run-plan';

/** The whole plan of a run whose run.planned could not carry all of it. */
export const planKey = (runId: string) => `runs/${runId}/plan.json`;

/**
 * Turns a run request into a stored run and its jobs. A request seen again (redelivery, a second
 * trigger of the same daily run) finds the run stored and only re-announces it.
 */
@Injectable()
export class RunIntakeService {
  private readonly log = new Logger('RunIntake');

  constructor(
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly ledger: LedgerRepository,
    private readonly dispatcher: DispatcherService,
    private readonly completion: CompletionService,
    private readonly capacity: CapacityView,
    private readonly universe: UniverseService,
    private readonly costs: CostsService,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
  ) {}

  runIdFor(request: EventMessage<'run.requested'>, date: string): string {
    if (request.runId) return request.runId;
    if (request.trigger === 'cron') return dailyRunId(date);
    return `run-${sha256Hex(request.id).slice(0, 16)}`;
  }

  async accept(request: EventMessage<'run.requested'>): Promise<RunEntity> {
    const now = this.clock.now();
    const date = request.date ?? defaultDataDate(now);
    const runId = this.runIdFor(request, date);
    const existing = await this.runs.find(runId);
    if (existing) {
      const differences = requestDifferences(existing.request, request);
      if (differences.length) throw new PermanentError(`run ${runId} exists with a different request (${differences.join(', ')} differ); use another run id`);
      this.log.log(`run ${runId} already accepted (${existing.status})`);
      await this.announce(existing);
      return existing;
    }
    const selection = request.symbols ?? (await this.universe.dailySelection());
    const { symbols, refused } = await this.universe.resolve(selection).catch((err) => {
      // An exchange outage passes; a missing file or a refused request does not.
      if (err instanceof ExchangeUnavailableError) throw err;
      throw new PermanentError(`cannot resolve the symbol selection: ${(err as Error).message}`);
    });
    if (symbols.length === 0) {
      throw new PermanentError(`no valid symbols in the request${refused.length ? `: ${refused.map((r) => `${r.symbol} (${r.reason})`).join(', ')}` : ''}`);
    }
    const costs = await this.costs.costsFor(symbols);
    // Saved before the run exists, so a stored run always has its costs beside it.
    await this.artifacts.put(`runs/${runId}/costs.json`, JSON.stringify({ runId, date, costs }, null, 2) + '\n', 'application/json');
    const capacity = await this.capacity.current();
    const gpuMemoryGb = gpuMemoryFor(request, this.cfg, capacity);
    const planned = planJobs({ runId, date, request, symbols, pastSeconds: await this.jobs.pastTrainSeconds(symbols), costs, gpuMemoryGb }, this.cfg);
    const ledger = new Map((await this.ledger.forDate(date, symbols)).map((e) => [`${e.symbol}|${e.trainingHash}`, e]));
    const maxConcurrent = concurrencyFor(request, this.cfg, capacity);
    const run: Partial<RunEntity> = {
      id: runId,
      date,
      trigger: request.trigger,
      status: request.dryRun ? 'planned' : 'running',
      mode: request.mode,
      maxConcurrent,
      priority: request.priority,
      request,
      totalJobs: planned.length,
      skipped: refused,
      startedAt: request.dryRun ? null : now,
      traceContext: captureTraceContext(),
    };
    await this.runs.create(
      run,
      planned.map((p) => {
        const earlier = ledger.get(`${p.definition.symbol}|${trainingHash(p.definition)}`);
        const done = earlier?.outcome === 'succeeded' && !request.force;
        return {
          id: p.definition.jobId,
          runId,
          symbol: p.definition.symbol,
          status: done ? ('skipped' as const) : request.dryRun ? ('planned' as const) : ('pending' as const),
          errorMessage: done ? `already trained by ${earlier.jobId} (${earlier.artifactsPrefix ?? 'no artifacts'}); --force trains it again` : null,
          // A failed training of the same inputs hands on its last checkpoint, so this one resumes.
          checkpoint: earlier?.outcome === 'failed' ? earlier.checkpoint : null,
          attempt: 1,
          maxAttempts: this.cfg.SCHEDULER_MAX_RETRIES + 1,
          priorityRank: p.priorityRank,
          expectedSeconds: p.expectedSeconds,
          definition: p.definition,
          specHash: p.specHash,
        };
      }),
    );
    const stored = (await this.runs.find(runId))!;
    this.log.log({
      // Named as the subject it announces: a run started, or only planned for a dry run.
      event: request.dryRun ? 'run_planned' : 'run_started',
      runId,
      date,
      trigger: request.trigger,
      mode: request.mode,
      maxConcurrent,
      jobs: planned.length,
      refused: refused.length,
      msg: `accepted run ${runId}: ${planned.length} jobs, ${refused.length} refused, mode ${request.mode} x${maxConcurrent}${request.dryRun ? ' (dry run)' : ''}`,
    });
    await this.announce(stored);
    return stored;
  }

  /** What the plan names as skipped: refused entries and trainings the ledger already has. */
  private skippedOf(run: RunEntity, jobs: JobEntity[]) {
    return [...run.skipped, ...jobs.filter((j) => j.status === 'skipped').map((j) => ({ symbol: j.symbol, reason: j.errorMessage ?? 'skipped' }))];
  }

  /** run.planned, then run.started and the first releases; message ids make repeats harmless. */
  private async announce(run: RunEntity): Promise<void> {
    const all = await this.jobs.ofRun(run.id);
    const jobs = all.filter((j) => j.status !== 'skipped');
    const expected = jobs.reduce((s, j) => s + j.expectedSeconds, 0);
    const capacity = await this.capacity.current();
    const price = capacity?.pricePerHour ?? 0;
    // Rented instances bill for their boot and bootstrap before they work, and the run waits for the first.
    const rental = capacity?.rental;
    const instances = rental && jobs.length ? Math.max(1, Math.min(rental.maxInstances, run.maxConcurrent, jobs.length)) : 0;
    const bootCost = rental ? (instances * rental.provisionSeconds * rental.pricePerHour) / 3600 : 0;
    const bootMinutes = rental && jobs.length ? rental.provisionSeconds / 60 : 0;
    const plan = {
      runId: run.id,
      requestId: run.request.id,
      date: run.date,
      jobs: [...jobs].sort(compareRelease).map((j) => ({
        jobId: j.id,
        symbol: j.symbol,
        ...(j.definition.variant ? { variant: j.definition.variant } : {}),
        priority: j.definition.priority,
        specHash: j.specHash,
        trainingHash: trainingHash(j.definition),
      })),
      skipped: this.skippedOf(run, all),
      forecast: {
        gpuHours: jobs.filter((j) => j.definition.resources.gpuMemoryGb > 0).reduce((s, j) => s + j.expectedSeconds, 0) / 3600,
        cost: (expected / 3600) * price + bootCost,
        wallMinutes: expected / Math.max(1, Math.min(run.maxConcurrent, jobs.length)) / 60 + bootMinutes,
      },
      dryRun: run.status === 'planned',
    };
    const fitted = fitPlan({ ...plan, planUri: this.artifacts.uri(planKey(run.id)) }, this.bus.maxPayload - MESSAGE_HEADER_ROOM);
    // A plan too large for one message is stored whole first, so the message never names a missing object.
    if (fitted.planUri) await this.artifacts.put(planKey(run.id), JSON.stringify({ runId: run.id, jobs: plan.jobs, skipped: plan.skipped }) + '\n', 'application/json');
    await this.bus.publish('run.planned', fitted, { id: `${run.id}-planned` });
    if (run.status === 'planned') return;
    await this.bus.publish(
      'run.started',
      { runId: run.id, requestId: run.request.id, date: run.date, trigger: run.trigger, mode: run.mode, maxConcurrent: run.maxConcurrent, totalJobs: jobs.length, symbols: jobs.map((j) => j.symbol) },
      { id: `${run.id}-started` },
    );
    await this.dispatcher.release(run.id);
    await this.completion.check(run.id);
  }
}
