import { Module } from '@nestjs/common';
import { apiTokens } from '@trainyard/config';
import { API_TOKENS, ApiTokenGuard, Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { ExperimentsApiController } from './experiments-api.controller';
import { TrackingRetentionService } from './tracking-retention.service';
import { TrackingService } from './tracking.service';
import { TrackingStore } from './tracking.store';

/** Experiment tracking: every attempt a tracked run, over REST (and mirrored to MLflow when configured). */
@Module({
  controllers: [ExperimentsApiController],
  providers: [Clock, TrackingStore, TrackingService, TrackingRetentionService, ApiTokenGuard, { provide: API_TOKENS, useFactory: (c: SchedulerConfig) => apiTokens(c), inject: [SCHEDULER_CONFIG] }],
  exports: [TrackingService],
})
export class TrackingModule {}
