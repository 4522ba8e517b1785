import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { MarketDataModule } from '../market-data/market-data.module';
import { AssignmentsController } from './assignments.controller';
import { BuiltinTrainer } from './builtin-trainer.service';
import { CommandTrainer } from './command-trainer.service';
import { JobRunner } from './job-runner.service';
import { TrainerWorkers } from './trainer-workers';
import { TrainingExecutor } from './training-executor';

@Module({
  imports: [MarketDataModule, ArtifactsModule],
  controllers: [AssignmentsController],
  providers: [TrainingExecutor, BuiltinTrainer, TrainerWorkers, CommandTrainer, JobRunner],
  exports: [JobRunner],
})
export class JobsModule {}
