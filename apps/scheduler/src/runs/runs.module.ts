import { Module } from '@nestjs/common';
import { CapacityView } from '@trainyard/messaging';
import { CostsModule } from '../costs/costs.module';
import { RepositoriesModule } from '../repositories/repositories.module';
import { SymbolsModule } from '../symbols/symbols.module';
import { TrackingModule } from '../tracking/tracking.module';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import { JobEvents } from './job-events';
import { JobLifecycleService } from './job-lifecycle.service';
import { OperatorActions } from './operator-actions.service';
import { ReconcilerService } from './reconciler.service';
import { RunIntakeService } from './run-intake.service';
import { RunSpendService } from './run-spend.service';
import { RunsController } from './runs.controller';

@Module({
  imports: [RepositoriesModule, TrackingModule, SymbolsModule, CostsModule],
  controllers: [RunsController],
  providers: [CapacityView, DispatcherService, CompletionService, JobLifecycleService, OperatorActions, RunIntakeService, ReconcilerService, RunSpendService, JobEvents],
  exports: [JobLifecycleService, OperatorActions, JobEvents, DispatcherService, CompletionService, CapacityView],
})
export class RunsModule {}
