import { BadRequestException, Body, ConflictException, Inject, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import { Id, newRunId, requestDifferences, RunRequested, SCHEMA_VERSION } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ApiTokenGuard, Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { JobRepository } from '../repositories/job.repository';
import { RunSpendRepository } from '../repositories/run-spend.repository';
import { RunRepository } from '../repositories/run.repository';
import { OperatorActions } from '../runs/operator-actions.service';
import { CancelBody, ListRunsQuery, StartRunBody } from './api-schemas';
import { ZodValidationPipe } from '@trainyard/runtime';

const IdParam = new ZodValidationPipe(Id, 'id');

@UseGuards(ApiTokenGuard)
@Controller('runs')
export class RunsApiController {
  constructor(
    private readonly bus: NatsBus,
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly spend: RunSpendRepository,
    private readonly actions: OperatorActions,
    private readonly clock: Clock,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  /**
   * Accepted for planning: the run appears under GET /runs/:id once the scheduler has stored it. The
   * body is the contract's, so what is refused here would be dead-lettered there; a run id in use by
   * another request is refused here too (409), as the scheduler would refuse it.
   */
  @Post()
  @HttpCode(202)
  async start(@Body(new ZodValidationPipe(StartRunBody, 'run request')) body: StartRunBody) {
    if (!body.symbols && !this.cfg.SCHEDULER_DAILY_SYMBOLS) {
      const reason = 'the request names no symbols and SCHEDULER_DAILY_SYMBOLS is not set: give symbols';
      throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: 'invalid run request', issues: [{ field: 'symbols', reason }] });
    }
    const runId = body.runId ?? newRunId('api', this.clock.now());
    const request = { ...body, runId, trigger: 'api' as const };
    const existing = await this.runs.find(runId);
    if (existing) {
      const differences = requestDifferences(existing.request, RunRequested.parse({ ...request, schemaVersion: SCHEMA_VERSION, id: `${runId}-request`, occurredAt: this.clock.now().toISOString() }));
      if (differences.length) throw new ConflictException(`run ${runId} exists with a different request (${differences.join(', ')} differ); use another run id`);
    }
    await this.bus.publish('run.requested', request, { id: `${runId}-request` });
    return { runId, status: 'requested', location: `/runs/${runId}` };
  }

  @Get()
  list(@Query(new ZodValidationPipe(ListRunsQuery, 'query')) q: ListRunsQuery) {
    return this.runs.list(q);
  }

  /**
   * The run with its job counts, its work cost (its jobs' leases) and its spend (its share of what
   * the GPU provider billed for the instances destroyed so far), both up to now even while it runs.
   */
  @Get(':id')
  async get(@Param('id', IdParam) id: string) {
    const run = await this.runs.find(id);
    if (!run) throw new NotFoundException(`no run ${id}`);
    return { ...run, jobCounts: await this.jobs.countsByStatus(id), cost: await this.jobs.workCost(id), spend: await this.spend.ofRun(id) };
  }

  /** Waiting jobs are cancelled at once, running ones are stopped on their agents. */
  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id', IdParam) id: string, @Body(new ZodValidationPipe(CancelBody, 'body')) body: { reason: string }) {
    return this.actions.cancelRun(id, body.reason);
  }
}
