import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { MlflowClient, MlflowRejected } from '@trainyard/tracking';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { trackedRunId } from './tracked-run-view';
import { TrackingService } from './tracking.service';
import { TrackingStore } from './tracking.store';

/** Mirrors at most this many runs a pass, so one slow MLflow never holds the scheduler's timer long. */
const RUNS_PER_PASS = 20;

export interface MirrorPass {
  mirrored: number;
  failed: number;
}

/**
 * With MLFLOW_TRACKING_URI set, every tracked run is also logged to that MLflow server once it has
 * finished (params, tags, every metric step, final metrics, artifacts as tags, status), and again when
 * a late point arrives. It runs beside training, never in its way: MLflow down means runs wait here,
 * recorded in `mlflow_sync` with the error, and are sent on a later pass. One replica mirrors at a
 * time (an advisory lock), since two first mirrors of one run could both create it.
 */
@Injectable()
export class MlflowMirrorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('MlflowMirror');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly ds: DataSource,
    private readonly store: TrackingStore,
    private readonly tracking: TrackingService,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
    @Optional() @Inject(MlflowClient) private readonly client: MlflowClient | null,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.client) return;
    this.log.log(`mirroring tracked runs to MLflow at ${new URL(this.cfg.MLFLOW_TRACKING_URI!).origin}`);
    this.timer = setInterval(() => void this.pass(), this.cfg.MLFLOW_SYNC_INTERVAL_MS);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async pass(): Promise<MirrorPass> {
    const done: MirrorPass = { mirrored: 0, failed: 0 };
    if (!this.client || this.running) return done;
    this.running = true;
    try {
      await this.ds.transaction(async (em) => {
        const [{ locked }] = await em.query(`SELECT pg_try_advisory_xact_lock(hashtext('trainyard.scheduler.mlflow')) AS locked`);
        if (!locked) return;
        const settledBefore = new Date(Date.now() - this.cfg.MLFLOW_SETTLE_SECONDS * 1000);
        for (const r of await this.store.toMirror(settledBefore, RUNS_PER_PASS)) {
          if (await this.mirror(r)) done.mirrored++;
          else done.failed++;
        }
      });
    } catch (err) {
      this.log.warn(`MLflow mirror pass failed, will try again: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
    return done;
  }

  private async mirror(r: { jobId: string; attempt: number; mlflowRunId: string | null; metricsSent: number; maxSeq: number }): Promise<boolean> {
    const id = trackedRunId(r.jobId, r.attempt);
    try {
      const run = await this.tracking.trackedRun(id);
      const result = await this.client!.mirror(run, {
        // Without a run id from an earlier pass the mirror compares with MLflow's history: exact after a crash.
        metricsSent: r.mlflowRunId ? r.metricsSent : undefined,
        onMetricsSent: (sent) => this.store.saveMirrorCursor(r.jobId, r.attempt, sent),
        readArtifact: async (a) => this.artifacts.get(a.key).catch(() => undefined),
        userId: 'trainyard',
      });
      await this.store.mirrored(r.jobId, r.attempt, result.mlflowRunId, result.metricsSent, r.maxSeq);
      return true;
    } catch (err) {
      const message = (err as Error).message.slice(0, 1000);
      // A refusal is permanent: recorded and not tried again until the run changes; anything else is retried next pass.
      await this.store.mirrorFailed(r.jobId, r.attempt, message, err instanceof MlflowRejected ? r.maxSeq : null);
      this.log.warn(`${id} not mirrored to MLflow${err instanceof MlflowRejected ? ' (refused)' : ', will try again'}: ${message}`);
      return false;
    }
  }
}
