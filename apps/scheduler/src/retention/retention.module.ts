import { Module } from '@nestjs/common';
import { apiTokens } from '@trainyard/config';
import { API_TOKENS, ApiTokenGuard, Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { DailyRetentionService } from './daily-retention.service';
import { RecordRetentionService } from './record-retention.service';
import { RetentionApiController } from './retention-api.controller';
import { RetentionStore } from './retention.store';

/** Retention of the scheduler's records (jobs, attempts, logs, runs) by age, daily and on demand. */
@Module({
  controllers: [RetentionApiController],
  providers: [
    Clock,
    RetentionStore,
    RecordRetentionService,
    DailyRetentionService,
    ApiTokenGuard,
    { provide: API_TOKENS, useFactory: (c: SchedulerConfig) => apiTokens(c), inject: [SCHEDULER_CONFIG] },
  ],
  exports: [RecordRetentionService],
})
export class RetentionModule {}
