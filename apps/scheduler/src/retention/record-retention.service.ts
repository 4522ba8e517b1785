import { Inject, Injectable, Logger } from '@nestjs/common';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { Clock } from '@trainyard/runtime';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { RetentionStore, type DeletedRows } from './retention.store';

export interface RetentionReport {
  logsDeleted: number;
  failedRunsPurged: number;
  rows: DeletedRows;
  objectsDeleted: number;
  bytesFreed: number;
}

const DAY_MS = 86_400_000;
/**
 * What the scheduler may delete under: an attempt's folder (or its archived checkpoints) or log, a
 * run's folder. Prefixes come from agents' messages, so anything else (production copies, `..`) is refused.
 */
const DELETABLE = /^(archive\/)?models\/(?!production\/)[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/(attempt\.log)?$|^runs\/[A-Za-z0-9_-]+\/$/;

/**
 * The one place the scheduler's records die. A pass deletes, by age: attempt logs
 * (TRACKING_LOG_RETENTION_DAYS), failed attempts' metric series (TRACKING_FAILED_RETENTION_DAYS),
 * failed, cancelled, skipped and dry-run jobs with their rows and their attempts' files
 * (SCHEDULER_RETENTION_FAILED_DAYS), succeeded jobs' rows (SCHEDULER_RETENTION_SUCCEEDED_DAYS; their
 * model files are the promoter's), and runs left with no job, with their files. Nothing of a job
 * whose model is or was in production. Every step is idempotent, so a pass cut short is finished
 * by the next one, and two at once do no harm.
 */
@Injectable()
export class RecordRetentionService {
  private readonly log = new Logger('Retention');

  constructor(
    private readonly store: RetentionStore,
    private readonly clock: Clock,
    private readonly metrics: SchedulerMetrics,
    @Inject(ARTIFACT_STORE) private readonly artifacts: ArtifactStore,
    @Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig,
  ) {}

  async run(): Promise<RetentionReport> {
    const now = this.clock.now().getTime();
    const before = (days: number) => new Date(now - days * DAY_MS);
    const freed = { objects: 0, bytes: 0 };
    const deleteUnder = async (prefix: string) => {
      if (!DELETABLE.test(prefix)) {
        this.log.warn({ event: 'retention_refused', prefix, msg: `retention refuses to delete under "${prefix}": not an attempt's or a run's folder` });
        return;
      }
      for (const o of await this.artifacts.list(prefix)) {
        await this.artifacts.delete(o.key);
        freed.objects++;
        freed.bytes += o.bytes;
      }
    };

    let logsDeleted = 0;
    for (const a of await this.store.logsOlderThan(before(this.cfg.TRACKING_LOG_RETENTION_DAYS))) {
      await deleteUnder(`${a.artifactsPrefix}/attempt.log`);
      await this.store.markLogDeleted(a.jobId, a.attempt, this.clock.now());
      logsDeleted++;
    }
    const failedRunsPurged = await this.store.purgeFailedBefore(before(this.cfg.TRACKING_FAILED_RETENTION_DAYS), this.clock.now());

    const rows: DeletedRows = { jobs: 0, attempts: 0, metricPoints: 0, ledger: 0, runs: 0 };
    const failedBefore = before(this.cfg.SCHEDULER_RETENTION_FAILED_DAYS);
    for (;;) {
      const expired = await this.store.expiredJobs(before(this.cfg.SCHEDULER_RETENTION_SUCCEEDED_DAYS), failedBefore);
      if (expired.jobIds.length === 0) break;
      // Files first: a pass that dies here leaves rows that the next pass finds again.
      for (const prefix of expired.failedPrefixes) {
        await deleteUnder(`${prefix}/`);
        await deleteUnder(`archive/${prefix}/`);
      }
      const deleted = await this.store.deleteJobs(expired.jobIds);
      for (const k of ['jobs', 'attempts', 'metricPoints', 'ledger'] as const) rows[k] += deleted[k];
    }
    for (;;) {
      const runIds = await this.store.emptyRunsBefore(failedBefore);
      if (runIds.length === 0) break;
      for (const id of runIds) await deleteUnder(`runs/${id}/`);
      rows.runs += await this.store.deleteRuns(runIds);
    }

    const report: RetentionReport = { logsDeleted, failedRunsPurged, rows, objectsDeleted: freed.objects, bytesFreed: freed.bytes };
    this.metrics.retained(report);
    this.log.log({
      event: 'retention_pass',
      ...report,
      msg: `retention freed ${freed.bytes} bytes in ${freed.objects} objects; deleted ${rows.jobs} jobs, ${rows.attempts} attempts, ${rows.runs} runs, ${logsDeleted} attempt logs`,
    });
    return report;
  }
}
