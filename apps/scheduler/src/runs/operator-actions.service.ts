import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { TERMINAL_JOB_STATES } from '@trainyard/contracts';
import { JobLifecycleService } from './job-lifecycle.service';
import { JobRepository } from '../repositories/job.repository';
import { RunRepository } from '../repositories/run.repository';

/**
 * What an operator may do to runs and jobs, one code path for the REST API and the bus commands
 * (run.cancel, job.cancel, job.retry). Refusals are Nest HTTP exceptions: a status for REST, a
 * reason for a command.result.
 */
@Injectable()
export class OperatorActions {
  constructor(
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly lifecycle: JobLifecycleService,
  ) {}

  /** Waiting jobs are cancelled at once, running ones are stopped on their agents. */
  async cancelRun(runId: string, reason: string): Promise<{ runId: string; cancelling: string[] }> {
    if (!(await this.runs.find(runId))) throw new NotFoundException(`no run ${runId}`);
    const jobs = (await this.jobs.ofRun(runId)).filter((j) => !TERMINAL_JOB_STATES.has(j.status));
    for (const job of jobs) await this.lifecycle.cancel(job.id, reason);
    return { runId, cancelling: jobs.map((j) => j.id) };
  }

  async cancelJob(jobId: string, reason: string): Promise<{ jobId: string; status: string }> {
    const job = await this.jobs.find(jobId);
    if (!job) throw new NotFoundException(`no job ${jobId}`);
    if (TERMINAL_JOB_STATES.has(job.status)) throw new ConflictException(`job ${jobId} is already ${job.status}`);
    const after = await this.lifecycle.cancel(jobId, reason);
    return { jobId, status: after?.status ?? job.status };
  }

  /** A failed or cancelled job gets one more attempt; its run reopens if it had completed. */
  async retryJob(jobId: string): Promise<{ jobId: string; status: 'retry_wait'; nextAttempt: number }> {
    const job = await this.jobs.find(jobId);
    if (!job) throw new NotFoundException(`no job ${jobId}`);
    const reopened = await this.lifecycle.retry(jobId);
    if (!reopened) throw new ConflictException(`job ${jobId} is ${job.status}; only failed or cancelled jobs can be retried`);
    return { jobId, status: 'retry_wait', nextAttempt: reopened.attempt + 1 };
  }
}
