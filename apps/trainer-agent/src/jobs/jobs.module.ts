import { Module } from '@nestjs/common';
import { ArtifactPublisher } from '../artifacts/artifact-publisher.service';
import { GpuProbe } from '../capacity/gpu-probe';
import { FeatureStore } from '../market-data/feature-store.service';
import { KlinesClient } from '../market-data/klines-client';
import { MarketDataService } from '../market-data/market-data.service';
import { TrainerInputsService } from '../market-data/trainer-inputs.service';
import { HeartbeatService } from '../capacity/heartbeat.service';
import { AssignmentsController } from './assignments.controller';
import { BuiltinTrainer } from './builtin-trainer.service';
import { CommandTrainer } from './command-trainer.service';
import { JobRunner } from './job-runner.service';
import { TrainingExecutor } from './training-executor';

@Module({
  controllers: [AssignmentsController],
  providers: [GpuProbe, KlinesClient, MarketDataService, FeatureStore, TrainerInputsService, TrainingExecutor, BuiltinTrainer, CommandTrainer, ArtifactPublisher, JobRunner, HeartbeatService],
  exports: [JobRunner, HeartbeatService],
})
export class JobsModule {}
