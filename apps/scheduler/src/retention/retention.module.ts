import { Module } from '@nestjs/common';
import { DailyRetentionService } from './daily-retention.service';
import { RecordRetentionService } from './record-retention.service';
import { RetentionApiController } from './retention-api.controller';
import { RetentionStore } from './retention.store';

/** Retention of the scheduler's records (jobs, attempts, logs, runs) by age, daily and on demand. */
@Module({
  controllers: [RetentionApiController],
  providers: [RetentionStore, RecordRetentionService, DailyRetentionService],
  exports: [RecordRetentionService],
})
export class RetentionModule {}
