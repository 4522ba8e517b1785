import { Module } from '@nestjs/common';
import { RunsModule } from '../runs/runs.module';
import { JobsApiController } from './jobs-api.controller';
import { OpenApiController } from './openapi.controller';
import { RunQueries } from './run-queries';
import { RunsApiController } from './runs-api.controller';
import { StatsController } from './stats.controller';

/** The REST API: runs and jobs to start, inspect, cancel and retry; statistics; its OpenAPI document. */
@Module({
  imports: [RunsModule],
  controllers: [RunsApiController, JobsApiController, StatsController, OpenApiController],
  providers: [RunQueries],
})
export class ApiModule {}
