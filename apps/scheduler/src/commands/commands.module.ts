import { Module } from '@nestjs/common';
import { RepositoriesModule } from '../repositories/repositories.module';
import { RunsModule } from '../runs/runs.module';
import { SchedulerCommandsController } from './scheduler-commands.controller';
import { SchedulerQueries } from './scheduler-queries';

/** The bus side of operating the scheduler: commands (run.cancel, job.cancel, job.retry) and queries (runs.*). */
@Module({
  imports: [RepositoriesModule, RunsModule],
  controllers: [SchedulerCommandsController],
  providers: [SchedulerQueries],
})
export class CommandsModule {}
