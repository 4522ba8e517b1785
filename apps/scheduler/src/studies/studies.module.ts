import { Module } from '@nestjs/common';
import { apiTokens } from '@trainyard/config';
import { API_TOKENS, ApiTokenGuard } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { RunsModule } from '../runs/runs.module';
import { StudiesApiController } from './studies-api.controller';
import { StudiesController } from './studies.controller';
import { StudyQueries } from './study-queries';
import { StudyService } from './study.service';
import { StudyStore } from './study.store';

/** Hyperparameter search on the shared fleet: studies whose trials are low-priority search jobs. */
@Module({
  imports: [RunsModule],
  controllers: [StudiesApiController, StudiesController],
  providers: [StudyStore, StudyService, StudyQueries, ApiTokenGuard, { provide: API_TOKENS, useFactory: (c: SchedulerConfig) => apiTokens(c), inject: [SCHEDULER_CONFIG] }],
})
export class StudiesModule {}
