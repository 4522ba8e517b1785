import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiTokenGuard, Clock } from '@trainyard/runtime';
import { StatsQuery } from './api-schemas';
import { RunQueries } from './run-queries';
import { ZodValidationPipe } from '@trainyard/runtime';

@UseGuards(ApiTokenGuard)
@Controller('stats')
export class StatsController {
  constructor(
    private readonly queries: RunQueries,
    private readonly clock: Clock,
  ) {}

  @Get()
  stats(@Query(new ZodValidationPipe(StatsQuery, 'query')) q: { days: number }) {
    return this.queries.stats(q.days, this.clock.now());
  }
}
