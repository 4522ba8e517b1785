import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { CapacityView } from '@trainyard/messaging';
import { CostsModule } from '../costs/costs.module';
import { SymbolsModule } from '../symbols/symbols.module';
import { CompletionService } from './completion.service';
import { DispatcherService } from './dispatcher.service';
import { JobEvents } from './job-events';
import { JobLifecycleService } from './job-lifecycle.service';
import { OperatorActions } from './operator-actions.service';
import { ReconcilerService } from './reconciler.service';
import { RunIntakeService } from './run-intake.service';
import { RunSpendService } from './run-spend.service';
import { RunSpendStore } from './run-spend.store';
import { TrackingModule } from '../tracking/tracking.module';
import { RunsController } from './runs.controller';
import { SchedulerStore } from './scheduler.store';

@Module({
  imports: [TrackingModule, SymbolsModule, CostsModule],
  controllers: [RunsController],
  providers: [CapacityView, SchedulerStore, DispatcherService, CompletionService, JobLifecycleService, OperatorActions, RunIntakeService, ReconcilerService, RunSpendStore, RunSpendService, JobEvents],
  exports: [SchedulerStore, RunSpendStore, JobLifecycleService, OperatorActions, JobEvents, DispatcherService, CompletionService, CapacityView],
})
export class RunsModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly store: SchedulerStore,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.store.ping());
  }
}
