import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sha256Hex, type Artifact, type JobSpec, type Lease } from '@trainyard/contracts';
import { ARTIFACT_STORE, type ArtifactStore } from '@trainyard/storage';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ArtifactPublisher, type ArtifactFile } from '../artifacts/artifact-publisher.service';
import { attemptPrefix } from '../artifacts/attempt-folder';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { AttemptLog } from './attempt-log';
import { ProgressThrottle } from './progress-throttle';
import { AttemptError, classify } from './training-errors';
import { BuiltinTrainer } from './builtin-trainer.service';
import { CommandTrainer } from './command-trainer.service';
import type { ProgressReport, TrainingRun } from './training-run';

interface RunningAttempt {
  spec: JobSpec;
  lease: Lease;
  execution?: TrainingRun;
  log?: AttemptLog;
  prefix?: string;
}

/** Runs the attempts assigned to this agent, each reporting start, progress and its outcome. */
@Injectable()
export class JobRunner implements BeforeApplicationShutdown {
  private readonly log = new Logger('JobRunner');
  private readonly running = new Map<string, RunningAttempt>();
  /** Leases taken by this process: an assign delivered twice starts one attempt. */
  private readonly accepted = new Set<string>();
  private readonly settled = new Set<Promise<void>>();
  private shuttingDown = false;

  constructor(
    private readonly bus: NatsBus,
    private readonly builtin: BuiltinTrainer,
    private readonly command: CommandTrainer,
    private readonly artifacts: ArtifactPublisher,
    private readonly clock: Clock,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
  ) {}

  runningAttempts(): { jobId: string; attempt: number; leaseId: string }[] {
    return [...this.running.values()].map((r) => ({ jobId: r.spec.jobId, attempt: r.spec.attempt, leaseId: r.lease.leaseId }));
  }

  /** When the last attempt running here may still run until, by its lease; null when none runs. */
  latestEndsBy(): Date | null {
    const ends = [...this.running.values()].map((r) => new Date(r.lease.endsBy).getTime());
    return ends.length ? new Date(Math.max(...ends)) : null;
  }

  /** Starts the attempt in the background and returns at once; the lease, not the message, tracks it. */
  accept(spec: JobSpec, lease: Lease): boolean {
    if (this.accepted.has(lease.leaseId)) return false;
    this.accepted.add(lease.leaseId);
    const entry: RunningAttempt = { spec, lease };
    this.running.set(lease.leaseId, entry);
    const done = this.execute(entry).finally(() => {
      this.running.delete(lease.leaseId);
      this.settled.delete(done);
    });
    this.settled.add(done);
    return true;
  }

  cancel(jobId: string, reason: string): boolean {
    let found = false;
    for (const r of this.running.values()) {
      if (r.spec.jobId !== jobId) continue;
      found = true;
      r.execution?.stop(reason);
    }
    return found;
  }

  private async execute(r: RunningAttempt): Promise<void> {
    const { spec, lease } = r;
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    const startedAt = this.clock.now();
    const prefix = attemptPrefix(spec.symbol, startedAt);
    const workDir = join(this.cfg.AGENT_WORK_DIR, prefix);
    const log = new AttemptLog(() => this.clock.now());
    Object.assign(r, { log, prefix });
    try {
      await this.bus.publish('job.started', { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, workDir, artifactsPrefix: prefix }, { id: `${lease.leaseId}-started` });
      log.add('job_started', `${spec.jobId} attempt ${spec.attempt} on ${lease.agentId} ${lease.device} (${spec.driver.kind} driver, ${spec.lookbackCandles} ${spec.timeframe} candles)`);
      this.log.log({ event: 'coin_started', ...ref, leaseId: lease.leaseId, agentId: lease.agentId, device: lease.device, driver: spec.driver.kind, msg: `started ${spec.jobId}#${spec.attempt} on ${lease.device}` });
      const throttle = new ProgressThrottle(this.cfg.AGENT_PROGRESS_INTERVAL_MS);
      const onProgress = (p: ProgressReport) => {
        log.add('progress', `${p.percent.toFixed(0)}%${p.epoch !== undefined ? ` epoch ${p.epoch}${p.epochs ? `/${p.epochs}` : ''}` : ''}${p.loss !== undefined ? ` loss ${p.loss.toFixed(5)}` : ''}${p.validationMetric !== undefined ? ` validation ${p.validationMetric.toFixed(5)}` : ''}`);
        if (!throttle.shouldSend()) return;
        const { percent, epoch, step, loss, validationMetric, etaSeconds } = p;
        void this.bus
          .publish('job.progress', { ...ref, percent, epoch, step, loss, validationMetric, etaSeconds })
          .catch((err) => this.log.warn(`progress not sent: ${err.message}`));
      };
      const checkpoints: Artifact[] = [];
      const onCheckpoint = async (file: ArtifactFile) => {
        const artifact = await this.artifacts.upload(prefix, file);
        checkpoints.push(artifact);
        log.add('checkpoint_uploaded', `${file.name} ${artifact.sha256}`);
        this.log.log({ event: 'checkpoint_uploaded', ...ref, file: file.name, sha256: artifact.sha256, uri: artifact.uri, msg: `${spec.symbol}#${spec.attempt} checkpoint ${file.name} uploaded` });
        await this.bus.publish(
          'job.checkpointed',
          { ...ref, checkpoint: { uri: artifact.uri, sha256: artifact.sha256, key: `${prefix}/${file.name}` } },
          { id: `${lease.leaseId}-${artifact.sha256.slice(0, 16)}` },
        );
      };
      const partials = new Map<string, Artifact>();
      const onPartial = async (file: ArtifactFile) => {
        await this.artifacts.writeLocal(workDir, file);
        const artifact = await this.artifacts.upload(prefix, file);
        partials.set(file.name, artifact);
        log.add('coin_partial_saved', `${file.name} ${artifact.sha256}`);
        this.log.log({ event: 'coin_partial_saved', ...ref, file: file.name, sha256: artifact.sha256, uri: artifact.uri, msg: `${spec.symbol}#${spec.attempt} saved ${file.name}` });
      };
      const resumePath = await this.fetchCheckpoint(spec, lease, log);
      r.execution =
        spec.driver.kind === 'command'
          ? this.command.start(spec, lease, workDir, { onLog: (line) => log.add('output', line), onProgress, onCheckpoint, resumePath })
          : this.builtin.start(spec, lease, workDir, { onLog: (line) => log.add('trainer', line), onProgress, onCheckpoint, onPartial, resumePath });
      const result = await r.execution.result.catch((err) => Promise.reject(classify(err, 'train')));
      const trainSeconds = (this.clock.now().getTime() - startedAt.getTime()) / 1000;
      log.add('trained', result.summary);
      // Partial outputs went up as they appeared; a final file of the same name (training_log.json) replaces its partial.
      const finalNames = new Set(result.files.map((f) => f.name));
      const uploadedEarlier = [...checkpoints, ...[...partials.values()].filter((a) => !finalNames.has(a.name))];
      const artifacts = await this.artifacts.publish(workDir, prefix, result.files, uploadedEarlier).catch((err) => {
        this.log.error({ event: 'upload_failed', ...ref, artifactsPrefix: prefix, error: String(err?.message ?? err), msg: `upload of ${spec.jobId}#${spec.attempt} failed: ${err?.message ?? err}` });
        return Promise.reject(classify(err, 'upload'));
      });
      const finishedAt = this.clock.now();
      log.add('upload_succeeded', `${artifacts.length} files under ${prefix}, checksums verified`);
      this.log.log({ event: 'upload_succeeded', ...ref, artifactsPrefix: prefix, files: artifacts.length, msg: `${artifacts.length} files under ${prefix}, checksums verified` });
      await this.saveLog(r);
      await this.bus.publish(
        'job.succeeded',
        {
          ...ref,
          agentId: lease.agentId,
          leaseId: lease.leaseId,
          date: spec.date,
          featureset: result.featureset,
          costs: spec.costs,
          promote: spec.promote,
          canary: spec.canary,
          artifactsPrefix: prefix,
          artifacts,
          metrics: result.metrics,
          evaluationWindow: result.evaluationWindow,
          trainSeconds,
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
        },
        { id: `${lease.leaseId}-succeeded` },
      );
      this.log.log({
        event: 'coin_succeeded',
        ...ref,
        trainSeconds,
        directionalHitRate: result.metrics.directionalHitRate,
        sharpe: result.metrics.sharpe,
        msg: `${spec.symbol} hit rate ${result.metrics.directionalHitRate.toFixed(3)} sharpe ${result.metrics.sharpe.toFixed(2)} in ${trainSeconds.toFixed(1)} s`,
      });
    } catch (err) {
      await this.report(r, err instanceof AttemptError ? err : classify(err, 'train'));
    }
  }

  /**
   * The checkpoint an attempt resumes from, fetched from the store and checked, into a folder outside
   * the attempt's output so it is not uploaded again. None when the spec names none.
   */
  private async fetchCheckpoint(spec: JobSpec, lease: Lease, log: AttemptLog): Promise<string | undefined> {
    const ref = spec.resumeFrom;
    if (!ref?.key) return undefined;
    const body = await this.store.get(ref.key).catch((err) => Promise.reject(classify(err, 'upload')));
    if (sha256Hex(body) !== ref.sha256) throw new AttemptError('storage', true, `checkpoint ${ref.key} does not match its checksum`);
    const path = join(this.cfg.AGENT_WORK_DIR, 'resume', lease.leaseId, basename(ref.key));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    log.add('resume', `from ${ref.key}`);
    return path;
  }

  /** Best effort: a log that cannot be uploaded must not turn a trained model into a failure. */
  private async saveLog(r: RunningAttempt): Promise<void> {
    if (!r.log || !r.prefix) return;
    await this.artifacts.upload(r.prefix, { name: 'attempt.log', body: r.log.text() }).catch((err) => this.log.warn(`attempt log not saved: ${err.message}`));
  }

  private async report(r: RunningAttempt, cause: AttemptError): Promise<void> {
    const { spec, lease } = r;
    const err = this.shuttingDown && cause.errorType === 'cancelled' ? new AttemptError('agent_lost', true, `agent ${lease.agentId} shut down during the attempt`) : cause;
    r.log?.add(err.errorType === 'cancelled' ? 'job_cancelled' : 'coin_failed', `${err.errorType}${err.retryable ? ' (retryable)' : ''}: ${err.message}${err.stackSummary ? `\n${err.stackSummary}` : ''}`);
    await this.saveLog(r);
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    try {
      if (err.errorType === 'cancelled') {
        await this.bus.publish('job.cancelled', { ...ref, reason: err.message }, { id: `${lease.leaseId}-cancelled` });
        this.log.warn({ event: 'coin_cancelled', ...ref, reason: err.message, msg: `job ${spec.jobId}#${spec.attempt} cancelled: ${err.message}` });
        return;
      }
      await this.bus.publish(
        'job.failed',
        { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, errorType: err.errorType, retryable: err.retryable, message: err.message.slice(0, 4000), stackSummary: err.stackSummary },
        { id: `${lease.leaseId}-failed` },
      );
      this.log.error({ event: 'coin_failed', ...ref, errorType: err.errorType, retryable: err.retryable, msg: `${spec.symbol}#${spec.attempt} (${err.errorType}): ${err.message}` });
    } catch (publishErr) {
      // The broker will see this agent's heartbeat without the lease and the scheduler will retry.
      this.log.error(`could not report the outcome of ${spec.jobId}#${spec.attempt}: ${(publishErr as Error).message}`);
    }
  }

  /** Attempts cut short by a shutdown are reported as lost so the scheduler retries them elsewhere. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const r of this.running.values()) r.execution?.stop('agent shutting down');
    await Promise.allSettled([...this.settled]);
  }
}
