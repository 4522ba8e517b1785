import { Module, type DynamicModule } from '@nestjs/common';
import { apiTokens, busOptions, storageOptions } from '@trainyard/config';
import { MessagingModule } from '@trainyard/messaging';
import { PersistenceModule } from '@trainyard/persistence';
import { ApiAuthModule, AppConfigModule, ClockModule, HealthModule } from '@trainyard/runtime';
import { StorageModule } from '@trainyard/storage';
import { SCHEDULER_CONFIG, type SchedulerConfig } from './config/scheduler.config';
import { SchedulerInit1763900000000 } from './migrations/1763900000000-scheduler-init';
import { ResumeLedger1763990000000 } from './migrations/1763990000000-resume-ledger';
import { ProgressLogsAndTraces1763990000001 } from './migrations/1763990000001-progress-logs-traces';
import { RunSpend1764300000000 } from './migrations/1764300000000-run-spend';
import { Tracking1764800000000 } from './migrations/1764800000000-tracking';
import { Studies1764900000000 } from './migrations/1764900000000-studies';
import { DryRunJobsPlanned1765200000000 } from './migrations/1765200000000-dry-run-jobs-planned';
import { EarlierCheckpoints1765300000000 } from './migrations/1765300000000-earlier-checkpoints';
import { RetentionPasses1765400000000 } from './migrations/1765400000000-retention-passes';
import { OpenJobs1765600000000 } from './migrations/1765600000000-open-jobs';
import { JobTrainingHash1765700000000 } from './migrations/1765700000000-job-training-hash';
import { ReleaseInOneCall1765800000000 } from './migrations/1765800000000-release-in-one-call';
import { ReleaseCountPerCall1765900000000 } from './migrations/1765900000000-release-count-per-call';
import { AttemptEntity } from './repositories/attempt.entity';
import { JobEntity } from './repositories/job.entity';
import { LedgerEntryEntity } from './repositories/ledger-entry.entity';
import { RunEntity } from './repositories/run.entity';
import { ApiModule } from './api/api.module';
import { CommandsModule } from './commands/commands.module';
import { RunsModule } from './runs/runs.module';
import { DailyModule } from './daily/daily.module';
import { StudiesModule } from './studies/studies.module';
import { RetentionModule } from './retention/retention.module';
import { SchedulerMetricsModule } from './metrics/scheduler.metrics';

@Module({})
export class AppModule {
  static forRoot(config: SchedulerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(SCHEDULER_CONFIG, config),
        ClockModule,
        ApiAuthModule.forRoot(apiTokens(config)),
        MessagingModule.forRootAsync({ useFactory: () => busOptions(config, 'scheduler') }),
        PersistenceModule.forRoot({
          schema: 'scheduler',
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
          waitForServerSeconds: config.DATABASE_WAIT_SECONDS,
          dataDir: config.DATA_DIR,
          entities: [RunEntity, JobEntity, AttemptEntity, LedgerEntryEntity],
          migrations: [
            SchedulerInit1763900000000,
            ResumeLedger1763990000000,
            ProgressLogsAndTraces1763990000001,
            RunSpend1764300000000,
            Tracking1764800000000,
            Studies1764900000000,
            DryRunJobsPlanned1765200000000,
            EarlierCheckpoints1765300000000,
            RetentionPasses1765400000000,
            OpenJobs1765600000000,
            JobTrainingHash1765700000000,
            ReleaseInOneCall1765800000000,
            ReleaseCountPerCall1765900000000,
          ],
        }),
        StorageModule.forRoot(storageOptions(config)),
        HealthModule,
        SchedulerMetricsModule,
        RunsModule,
        DailyModule,
        ApiModule,
        CommandsModule,
        StudiesModule,
        RetentionModule,
      ],
    };
  }
}
