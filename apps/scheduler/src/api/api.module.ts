import { Module } from '@nestjs/common';
import { RepositoriesModule } from '../repositories/repositories.module';
import { RunsModule } from '../runs/runs.module';
import { JobsApiController } from './jobs-api.controller';
import { OpenApiController } from './openapi.controller';
import { RunsApiController } from './runs-api.controller';
import { StatsController } from './stats.controller';

/** The REST API: runs and jobs to start, inspect, cancel and retry; statistics; its OpenAPI document. */
@Module({
  imports: [RepositoriesModule, RunsModule],
  controllers: [RunsApiController, JobsApiController, StatsController, OpenApiController],
})
export class ApiModule {}
