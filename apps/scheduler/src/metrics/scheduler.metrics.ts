import { Global, Injectable, Module } from '@nestjs/common';
import { JOB_STATES, Priority, RUN_STATES, type ErrorType } from '@trainyard/contracts';
import { MetricsModule, MetricsRegistry } from '@trainyard/runtime';
import { JobRepository } from '../repositories/job.repository';
import { RepositoriesModule } from '../repositories/repositories.module';
import { RunRepository } from '../repositories/run.repository';

/** Seconds from release to a start on an agent: a broker queue and an assignment, usually short. */
const DISPATCH_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds of training: the built-in trainer takes about a second, a GPU job up to hours. */
const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];

/**
 * The scheduler's series. States and queue depth are read from its tables when Prometheus scrapes
 * (the database is the record, so every replica reports the same values); latencies, durations and
 * retries are observed as the events arrive.
 */
@Injectable()
export class SchedulerMetrics {
  readonly dispatchLatency;
  readonly jobDuration;
  readonly retries;
  readonly retentionRows;
  readonly retentionObjects;
  readonly retentionBytes;

  constructor(metrics: MetricsRegistry, runs: RunRepository, jobs: JobRepository) {
    metrics.sampledGauge({
      name: 'trainyard_jobs',
      help: 'Jobs by state, of runs running or created in the last 24 hours',
      labelNames: ['state'],
      zeros: JOB_STATES.map((state) => ({ state })),
      sample: async () => {
        const rows = await jobs.countsByStateRecent();
        return rows.map((r) => ({ labels: { state: r.state }, value: r.n }));
      },
    });
    metrics.sampledGauge({
      name: 'trainyard_runs',
      help: 'Runs by state, of runs running or created in the last 24 hours',
      labelNames: ['state'],
      zeros: RUN_STATES.map((state) => ({ state })),
      sample: async () => {
        const rows = await runs.countsByStateRecent();
        return rows.map((r) => ({ labels: { state: r.state }, value: r.n }));
      },
    });
    metrics.sampledGauge({
      name: 'trainyard_queue_depth',
      help: 'Jobs waiting to be released (pending, or a retry that is due or waiting), by priority',
      labelNames: ['priority'],
      zeros: Priority.options.map((priority) => ({ priority })),
      sample: async () => {
        const rows = await jobs.queueDepth();
        return rows.map((r) => ({ labels: { priority: r.priority }, value: r.n }));
      },
    });
    this.dispatchLatency = metrics.histogram('trainyard_dispatch_latency_seconds', 'Seconds from a job attempt released (requested) to started on an agent', DISPATCH_BUCKETS, ['priority']);
    this.jobDuration = metrics.histogram('trainyard_job_duration_seconds', 'Seconds from an attempt started to finished, by outcome', DURATION_BUCKETS, ['outcome']);
    this.retries = metrics.counter('trainyard_job_retries_total', 'Failed attempts given another attempt, by error type', ['error_type']);
    this.retentionRows = metrics.counter('trainyard_retention_deleted_rows_total', 'Rows retention deleted, by table', ['table']);
    this.retentionObjects = metrics.counter('trainyard_retention_deleted_objects_total', 'Artifact-store objects retention deleted (attempt logs, failed attempts, runs)', []);
    this.retentionBytes = metrics.counter('trainyard_retention_freed_bytes_total', 'Bytes of artifact-store objects retention deleted', []);
    // Series from the start, at zero, so a dashboard shows 0 rather than no data.
    for (const priority of Priority.options) this.dispatchLatency.zero({ priority });
    for (const outcome of ['succeeded', 'failed', 'cancelled']) this.jobDuration.zero({ outcome });
    for (const table of ['jobs', 'attempts', 'metric_points', 'ledger', 'runs']) this.retentionRows.inc({ table }, 0);
  }

  /** A job started on an agent: the time it waited since its release. */
  started(job: { releasedAt: Date | null; startedAt: Date | null; definition: { priority: string } }): void {
    if (!job.releasedAt || !job.startedAt) return;
    this.dispatchLatency.observe({ priority: job.definition.priority }, Math.max(0, (job.startedAt.getTime() - job.releasedAt.getTime()) / 1000));
  }

  /** An attempt ended; one that never started has no duration. */
  finished(outcome: 'succeeded' | 'failed' | 'cancelled', startedAt: Date | null, finishedAt: Date | null): void {
    if (!startedAt || !finishedAt) return;
    this.jobDuration.observe({ outcome }, Math.max(0, (finishedAt.getTime() - startedAt.getTime()) / 1000));
  }

  /** What a retention pass deleted. */
  retained(r: { rows: { jobs: number; attempts: number; metricPoints: number; ledger: number; runs: number }; objectsDeleted: number; bytesFreed: number }): void {
    this.retentionRows.inc({ table: 'jobs' }, r.rows.jobs);
    this.retentionRows.inc({ table: 'attempts' }, r.rows.attempts);
    this.retentionRows.inc({ table: 'metric_points' }, r.rows.metricPoints);
    this.retentionRows.inc({ table: 'ledger' }, r.rows.ledger);
    this.retentionRows.inc({ table: 'runs' }, r.rows.runs);
    this.retentionObjects.inc(r.objectsDeleted);
    this.retentionBytes.inc(r.bytesFreed);
  }

  retried(errorType: ErrorType): void {
    this.retries.inc({ error_type: errorType });
  }
}

/** `GET /metrics` for the scheduler, and SchedulerMetrics injectable everywhere in it. */
@Global()
@Module({
  imports: [MetricsModule.forRoot({ service: 'scheduler' }), RepositoriesModule],
  providers: [SchedulerMetrics],
  exports: [SchedulerMetrics],
})
export class SchedulerMetricsModule {}
