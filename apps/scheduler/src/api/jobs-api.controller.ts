import { Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { Id } from '@trainyard/contracts';
import { JobRepository } from '../repositories/job.repository';
import { OperatorActions } from '../runs/operator-actions.service';
import { CancelBody, ListJobsQuery } from './api-schemas';
import { ApiTokenGuard, ZodValidationPipe } from '@trainyard/runtime';

const IdParam = new ZodValidationPipe(Id, 'id');

@UseGuards(ApiTokenGuard)
@Controller('jobs')
export class JobsApiController {
  constructor(
    private readonly jobs: JobRepository,
    private readonly actions: OperatorActions,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
  ) {}

  @Get()
  list(@Query(new ZodValidationPipe(ListJobsQuery, 'query')) q: ListJobsQuery) {
    return this.jobs.list(q);
  }

  @Get(':id')
  async get(@Param('id', IdParam) id: string) {
    const job = await this.jobs.find(id);
    if (!job) throw new NotFoundException(`no job ${id}`);
    return { ...job, attempts: await this.jobs.attempts(id) };
  }

  @Get(':id/progress')
  async progress(@Param('id', IdParam) id: string) {
    const job = await this.jobs.find(id);
    if (!job) throw new NotFoundException(`no job ${id}`);
    return { jobId: job.id, status: job.status, attempt: job.attempt, agentId: job.agentId, startedAt: job.startedAt, progress: job.progress };
  }

  /** Each attempt with its outcome and the log its agent saved (null where none was saved). */
  @Get(':id/logs')
  async logs(@Param('id', IdParam) id: string) {
    const job = await this.jobs.find(id);
    if (!job) throw new NotFoundException(`no job ${id}`);
    const attempts = await this.jobs.attempts(id);
    return {
      jobId: id,
      attempts: await Promise.all(
        attempts.map(async (a) => ({
          attempt: a.attempt,
          status: a.status,
          agentId: a.agentId,
          errorType: a.errorType,
          message: a.message,
          stackSummary: a.stackSummary,
          log: a.artifactsPrefix
            ? await this.artifacts.get(`${a.artifactsPrefix}/attempt.log`).then(
                (b) => b.toString('utf8'),
                () => null,
              )
            : null,
        })),
      ),
    };
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id', IdParam) id: string, @Body(new ZodValidationPipe(CancelBody, 'body')) body: { reason: string }) {
    return this.actions.cancelJob(id, body.reason);
  }

  /** A failed or cancelled job gets one more attempt; its run reopens if it had completed. */
  @Post(':id/retry')
  @HttpCode(202)
  retry(@Param('id', IdParam) id: string) {
    return this.actions.retryJob(id);
  }
}
