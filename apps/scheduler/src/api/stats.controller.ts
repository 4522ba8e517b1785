import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiTokenGuard, Clock, ZodValidationPipe } from '@trainyard/runtime';
import { JobRepository } from '../repositories/job.repository';
import { StatsQuery } from './api-schemas';

@UseGuards(ApiTokenGuard)
@Controller('stats')
export class StatsController {
  constructor(
    private readonly jobs: JobRepository,
    private readonly clock: Clock,
  ) {}

  /** Jobs by status, train durations, and the success rate per data date over the last `days`. */
  @Get()
  async stats(@Query(new ZodValidationPipe(StatsQuery, 'query')) q: { days: number }) {
    const since = new Date(this.clock.now().getTime() - q.days * 86_400_000).toISOString().slice(0, 10);
    const { byStatus, trainMinutes, perDate } = await this.jobs.stats(since);
    return {
      since,
      jobsByStatus: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
      trainMinutes,
      successRateByDate: perDate.map((d) => ({ ...d, successRate: d.succeeded + d.failed ? d.succeeded / (d.succeeded + d.failed) : null })),
    };
  }
}
