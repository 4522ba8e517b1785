import { Module } from '@nestjs/common';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { MlflowClient } from '@trainyard/tracking';
import { ExperimentsApiController } from './experiments-api.controller';
import { MlflowMirrorService } from './mlflow-mirror.service';
import { TrackingService } from './tracking.service';
import { TrackingStore } from './tracking.store';

/** Experiment tracking: every attempt a tracked run, over REST (and mirrored to MLflow when configured). */
@Module({
  controllers: [ExperimentsApiController],
  providers: [
    TrackingStore,
    TrackingService,
    MlflowMirrorService,
    // The MLflow tracking server behind one adapter; none unless MLFLOW_TRACKING_URI is set.
    {
      provide: MlflowClient,
      useFactory: (c: SchedulerConfig) =>
        c.MLFLOW_TRACKING_URI
          ? new MlflowClient({ trackingUri: c.MLFLOW_TRACKING_URI, token: c.MLFLOW_TRACKING_TOKEN, username: c.MLFLOW_TRACKING_USERNAME, password: c.MLFLOW_TRACKING_PASSWORD })
          : null,
      inject: [SCHEDULER_CONFIG],
    },
  ],
  exports: [TrackingService],
})
export class TrackingModule {}
