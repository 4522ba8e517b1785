import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Artifact, type CheckpointRef, type EventInput, type EventName, type JobSpec, type Lease } from '@trainyard/contracts';
import { ARTIFACT_STORE, ArtifactNotFoundError, type ArtifactStore } from '@trainyard/storage';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { ArtifactPublisher, type ArtifactFile, type InMemoryFile } from '../artifacts/artifact-publisher.service';
import { attemptPrefix } from '../artifacts/attempt-folder';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { AttemptLog } from './attempt-log';
import { builtinCodeVersion, CodeVersions } from './code-version';
import { MetricBuffer } from './metric-buffer';
import { ProgressThrottle } from './progress-throttle';
import { AttemptError, classify, summarizeStack } from './training-errors';
import { BuiltinTrainer } from './builtin-trainer.service';
import { CommandTrainer } from './command-trainer.service';
import type { ProgressReport, TrainingRun } from './training-run';

interface RunningAttempt {
  spec: JobSpec;
  lease: Lease;
  execution?: TrainingRun;
  log?: AttemptLog;
  prefix?: string;
  metrics?: MetricBuffer;
}

/** A cancel as the agent acts on it: a job's cancel, or the broker's fence of one lease (leaseId set). */
export interface CancelOrder {
  jobId: string;
  reason: string;
  leaseId?: string;
  agentId?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Succeeded = EventInput<'job.succeeded'>;
/** A trained, uploaded and verified outcome whose job.succeeded never went out: a later attempt of the job may reuse it. */
interface FinishedOutcome {
  specHash: string;
  attempt: number;
  outcome: Omit<Succeeded, 'jobId' | 'runId' | 'symbol' | 'attempt' | 'agentId' | 'leaseId'>;
}
/** Where such an outcome is kept: beside the symbol's attempt folders, outside them (retention reads only those). */
export const finishedOutcomeKey = (symbol: string, jobId: string) => `models/${symbol}/finished/${jobId}.json`;

/**
 * Runs the attempts assigned to this agent, each reporting start, progress and its outcome.
 * Fencing: a lease the broker took back is stopped and never started, an assignment past its lease's
 * end or older than an attempt of its job already taken here is refused (see docs/design.md).
 */
@Injectable()
export class JobRunner implements BeforeApplicationShutdown {
  private readonly log = new Logger('JobRunner');
  private readonly running = new Map<string, RunningAttempt>();
  /** Leases taken by this process: an assign delivered twice starts one attempt. */
  private readonly accepted = new Set<string>();
  /** Leases the broker took back: stopped if running here, refused if their assignment comes later. */
  private readonly fenced = new Set<string>();
  /** The newest attempt of each job taken here: an older attempt's assignment arriving late is stale. */
  private readonly newestAttempt = new Map<string, number>();
  private readonly settled = new Set<Promise<void>>();
  private readonly codeVersions = new CodeVersions();
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
    const refusal = this.refusal(spec, lease);
    if (refusal) {
      void this.refuse(spec, lease, refusal);
      return false;
    }
    this.newestAttempt.set(spec.jobId, Math.max(spec.attempt, this.newestAttempt.get(spec.jobId) ?? 0));
    const entry: RunningAttempt = { spec, lease };
    this.running.set(lease.leaseId, entry);
    const done = this.execute(entry).finally(() => {
      this.running.delete(lease.leaseId);
      this.settled.delete(done);
    });
    this.settled.add(done);
    return true;
  }

  /** Why an assignment must not run here, if it must not. */
  private refusal(spec: JobSpec, lease: Lease): { errorType: 'timeout' | 'agent_lost'; message: string; silent?: boolean } | null {
    if (this.fenced.has(lease.leaseId)) return { errorType: 'agent_lost', message: `lease ${lease.leaseId} was taken back by the broker before its assignment arrived`, silent: true };
    const newest = this.newestAttempt.get(spec.jobId);
    if (newest !== undefined && newest > spec.attempt) return { errorType: 'agent_lost', message: `attempt ${spec.attempt} of ${spec.jobId} is stale: attempt ${newest} was already taken here` };
    if (new Date(lease.endsBy).getTime() <= this.clock.now().getTime()) return { errorType: 'timeout', message: `lease ${lease.leaseId} ended at ${lease.endsBy}, before its assignment arrived` };
    return null;
  }

  /**
   * A refused assignment is never started. One the broker fenced is reported by the broker already;
   * the others answer with job.failed so the broker frees the slot (a stale attempt's is ignored by
   * the scheduler, which has moved on; an expired one is retried like a timeout).
   */
  private async refuse(spec: JobSpec, lease: Lease, why: { errorType: 'timeout' | 'agent_lost'; message: string; silent?: boolean }): Promise<void> {
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    this.log.warn({ event: 'assignment_refused', ...ref, leaseId: lease.leaseId, errorType: why.errorType, msg: `refused ${spec.jobId}#${spec.attempt}: ${why.message}` });
    if (why.silent) return;
    await this.bus
      .publish('job.failed', { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, errorType: why.errorType, retryable: true, message: why.message }, { id: `${lease.leaseId}-failed` })
      .catch((err) => this.log.error(`could not report the refusal of ${spec.jobId}#${spec.attempt} (the broker takes its lease back once no heartbeat lists it): ${(err as Error).message}`));
  }

  /**
   * A job's cancel stops every attempt of the job here. The broker's fence (leaseId set) stops only
   * that lease, and remembers it so its assignment is refused should it arrive later.
   */
  cancel(order: CancelOrder): boolean {
    const { jobId, reason } = order;
    if (order.leaseId) {
      if (order.agentId && order.agentId !== this.cfg.AGENT_ID) return false;
      this.fenced.add(order.leaseId);
      const r = this.running.get(order.leaseId);
      r?.execution?.stop(reason);
      return r !== undefined;
    }
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
    const prefix = attemptPrefix(spec.symbol, startedAt, { jobId: spec.jobId, attempt: spec.attempt, leaseId: lease.leaseId });
    const workDir = join(this.cfg.AGENT_WORK_DIR, prefix);
    const log = new AttemptLog(() => this.clock.now());
    const metrics = new MetricBuffer(() => this.clock.now());
    Object.assign(r, { log, prefix, metrics });
    try {
      this.checkFence(lease);
      // A trainer this agent does not allow is refused before anything starts.
      const codeVersion = spec.driver.kind === 'command' ? await this.codeVersions.of(this.command.allowedTrainer(spec).command) : builtinCodeVersion();
      await this.publishOutcome('job.started', { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, workDir, artifactsPrefix: prefix, codeVersion }, { id: `${lease.leaseId}-started` });
      log.add('job_started', `${spec.jobId} attempt ${spec.attempt} on ${lease.agentId} ${lease.device} (${spec.driver.kind} driver, ${spec.lookbackCandles} ${spec.timeframe} candles)`);
      this.log.log({
        event: 'job_started',
        ...ref,
        leaseId: lease.leaseId,
        agentId: lease.agentId,
        device: lease.device,
        driver: spec.driver.kind,
        msg: `started ${spec.jobId}#${spec.attempt} on ${lease.device}`,
      });
      const throttle = new ProgressThrottle(this.cfg.AGENT_PROGRESS_INTERVAL_MS);
      const onProgress = (p: ProgressReport) => {
        log.add(
          'progress',
          `${p.percent.toFixed(0)}%${p.epoch !== undefined ? ` epoch ${p.epoch}${p.epochs ? `/${p.epochs}` : ''}` : ''}${p.loss !== undefined ? ` loss ${p.loss.toFixed(5)}` : ''}${p.validationMetric !== undefined ? ` validation ${p.validationMetric.toFixed(5)}` : ''}`,
        );
        metrics.add(p);
        if (!throttle.shouldSend()) return;
        const { percent, epoch, step, loss, validationMetric, etaSeconds } = p;
        const points = metrics.take();
        void this.bus.publish('job.progress', { ...ref, percent, epoch, step, loss, validationMetric, etaSeconds, ...(points.length ? { points } : {}) }).catch((err) => {
          metrics.putBack(points);
          this.log.warn(`progress not sent: ${err.message}`);
        });
      };
      const checkpoints: Artifact[] = [];
      const onCheckpoint = async (file: ArtifactFile) => {
        const artifact = await this.artifacts.upload(prefix, file);
        checkpoints.push(artifact);
        log.add('checkpoint_uploaded', `${file.name} ${artifact.sha256}`);
        this.log.log({ event: 'checkpoint_uploaded', ...ref, file: file.name, sha256: artifact.sha256, uri: artifact.uri, msg: `${spec.symbol}#${spec.attempt} checkpoint ${file.name} uploaded` });
        // The checkpoint is stored and listed with the final files: a bus outage must not end the training.
        await this.bus
          .publish(
            'job.checkpointed',
            { ...ref, checkpoint: { uri: artifact.uri, sha256: artifact.sha256, key: `${prefix}/${file.name}` } },
            { id: `${lease.leaseId}-${artifact.sha256.slice(0, 16)}` },
          )
          .catch((err) => this.log.warn(`job.checkpointed for ${file.name} not sent: ${(err as Error).message}`));
      };
      const partials = new Map<string, Artifact>();
      const onPartial = async (file: InMemoryFile) => {
        await this.artifacts.writeLocal(workDir, file);
        const artifact = await this.artifacts.upload(prefix, file);
        partials.set(file.name, artifact);
        log.add('partial_saved', `${file.name} ${artifact.sha256}`);
        this.log.log({ event: 'partial_saved', ...ref, file: file.name, sha256: artifact.sha256, uri: artifact.uri, msg: `${spec.symbol}#${spec.attempt} saved ${file.name}` });
      };
      const reused = await this.finishedEarlier(spec, log);
      if (reused) {
        const { outcome, attempt } = reused;
        this.checkFence(lease);
        await this.publishOutcome('job.succeeded', { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, ...outcome }, { id: `${lease.leaseId}-succeeded` });
        await this.store.delete(finishedOutcomeKey(spec.symbol, spec.jobId)).catch((err) => this.log.warn(`finished outcome of ${spec.jobId} not deleted: ${(err as Error).message}`));
        this.log.log({
          event: 'job_succeeded',
          ...ref,
          reusedAttempt: attempt,
          artifactsPrefix: outcome.artifactsPrefix,
          msg: `${spec.symbol}: attempt ${attempt}'s verified artifacts under ${outcome.artifactsPrefix} reused, not retrained`,
        });
        return;
      }
      const resumePath = await this.fetchCheckpoint(spec, lease, log);
      this.checkFence(lease);
      r.execution =
        spec.driver.kind === 'command'
          ? this.command.start(spec, lease, workDir, { onLog: (line) => log.add('output', line), onProgress, onCheckpoint, resumePath, codeVersion })
          : this.builtin.start(spec, lease, workDir, { onLog: (line) => log.add('trainer', line), onProgress, onCheckpoint, onPartial, resumePath });
      const result = await r.execution.result.catch((err) => Promise.reject(classify(err, 'train')));
      const trainSeconds = (this.clock.now().getTime() - startedAt.getTime()) / 1000;
      log.add('trained', result.summary);
      // Partial outputs went up as they appeared; a final file of the same name (training_log.json) replaces its partial.
      const finalNames = new Set(result.files.map((f) => f.name));
      const uploadedEarlier = [...checkpoints, ...[...partials.values()].filter((a) => !finalNames.has(a.name))];
      // From here on the model exists: storage and bus faults are waited out, never blamed on the trainer.
      const artifacts = await this.retrying('upload', () => this.artifacts.publish(workDir, prefix, result.files, uploadedEarlier)).catch((err) => {
        this.log.error({ event: 'upload_failed', ...ref, artifactsPrefix: prefix, error: String(err?.message ?? err), msg: `upload of ${spec.jobId}#${spec.attempt} failed: ${err?.message ?? err}` });
        return Promise.reject(classify(err, 'upload'));
      });
      const finishedAt = this.clock.now();
      log.add('upload_succeeded', `${artifacts.length} files under ${prefix}, checksums verified`);
      this.log.log({ event: 'upload_succeeded', ...ref, artifactsPrefix: prefix, files: artifacts.length, msg: `${artifacts.length} files under ${prefix}, checksums verified` });
      await this.saveLog(r);
      this.checkFence(lease);
      const outcome: FinishedOutcome['outcome'] = {
        date: spec.date,
        featureset: result.featureset,
        costs: spec.costs,
        artifactsPrefix: prefix,
        artifacts,
        metrics: result.metrics,
        ...(spec.variant ? { variant: spec.variant } : {}),
        ...(result.allDataMetrics ? { allDataMetrics: result.allDataMetrics } : {}),
        evaluationWindow: result.evaluationWindow,
        trainSeconds,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
      };
      await this.flushMetrics(r);
      await this.publishOutcome('job.succeeded', { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, ...outcome }, { id: `${lease.leaseId}-succeeded` }).catch(async (err) => {
        if (err instanceof AttemptError && err.errorType === 'network') await this.keepFinished(spec, outcome);
        throw err;
      });
      this.log.log({
        event: 'job_succeeded',
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

  /** Stops an attempt whose lease the broker took back, before it starts or reports anything. */
  private checkFence(lease: Lease): void {
    if (this.fenced.has(lease.leaseId)) throw new AttemptError('cancelled', false, `lease ${lease.leaseId} was taken back by the broker`);
  }

  /**
   * Retries `work` through an outage for up to AGENT_OUTCOME_RETRY_SECONDS, backing off from 250 ms
   * to 10 s; the last error is thrown when the window is spent (or the agent is shutting down).
   */
  private async retrying<T>(what: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.cfg.AGENT_OUTCOME_RETRY_SECONDS * 1000;
    for (let delay = 250; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        return await work();
      } catch (err) {
        if (err instanceof AttemptError || this.shuttingDown || Date.now() + delay > deadline) throw err;
        this.log.warn(`${what} failed, trying again in ${delay} ms: ${(err as Error)?.message ?? err}`);
        await sleep(delay);
      }
    }
  }

  /**
   * Publishes an attempt's start or outcome, retried through a bus outage; if the bus stays away the
   * attempt fails as `network` (retryable), never as the trainer's fault. A message the contract
   * refuses is a bug, not an outage, and is not retried.
   */
  private async publishOutcome<N extends EventName>(name: N, input: EventInput<N>, opts: { id: string }): Promise<void> {
    await this.retrying(`publishing ${name}`, async () => {
      try {
        await this.bus.publish(name, input, opts);
      } catch (err) {
        if (/refusing to publish invalid/.test((err as Error)?.message ?? '')) throw new AttemptError('trainer_error', false, (err as Error).message, summarizeStack((err as Error).stack));
        throw err;
      }
    }).catch((err) => {
      if (err instanceof AttemptError) throw err;
      throw new AttemptError(
        'network',
        true,
        `${name} could not be published within ${this.cfg.AGENT_OUTCOME_RETRY_SECONDS} s: ${(err as Error)?.message ?? err}`,
        summarizeStack((err as Error)?.stack),
      );
    });
  }

  /** Best effort: keeps a verified outcome the bus never heard of, for the job's next attempt to reuse. */
  private async keepFinished(spec: JobSpec, outcome: FinishedOutcome['outcome']): Promise<void> {
    const kept: FinishedOutcome = { specHash: spec.specHash, attempt: spec.attempt, outcome };
    await this.store
      .put(finishedOutcomeKey(spec.symbol, spec.jobId), JSON.stringify(kept), 'application/json')
      .then(() => this.log.warn(`${spec.jobId}#${spec.attempt}: outcome kept under ${finishedOutcomeKey(spec.symbol, spec.jobId)} for the next attempt`))
      .catch((err) => this.log.warn(`${spec.jobId}#${spec.attempt}: outcome not kept: ${(err as Error).message}`));
  }

  /**
   * An earlier attempt's outcome for the same inputs (spec hash), when every artifact it names is
   * still in the store with its checksum; null otherwise, or when the store cannot say (then it trains).
   */
  private async finishedEarlier(spec: JobSpec, log: AttemptLog): Promise<FinishedOutcome | null> {
    if (spec.attempt <= 1) return null;
    const key = finishedOutcomeKey(spec.symbol, spec.jobId);
    try {
      if (!(await this.store.exists(key))) return null;
      const kept = JSON.parse((await this.store.get(key)).toString('utf8')) as FinishedOutcome;
      if (kept.specHash !== spec.specHash || kept.attempt >= spec.attempt) return null;
      for (const a of kept.outcome.artifacts) {
        if ((await this.store.sha256(`${kept.outcome.artifactsPrefix}/${a.name}`)) !== a.sha256) {
          log.add('reuse_refused', `${kept.outcome.artifactsPrefix}/${a.name} does not match its checksum: training again`);
          return null;
        }
      }
      log.add('reuse', `attempt ${kept.attempt} trained these inputs and its artifacts under ${kept.outcome.artifactsPrefix} check out`);
      return kept;
    } catch (err) {
      this.log.warn(`finished outcome of ${spec.jobId} not usable, training again: ${(err as Error).message}`);
      return null;
    }
  }

  /**
   * The checkpoint an attempt resumes from: the scheduler's latest, or, when that one is corrupt or
   * gone, the newest earlier one that checks out (one code path for both drivers). It is fetched into
   * a folder outside the attempt's output so it is not uploaded again. None when the spec names none,
   * or when none checks out: then training starts from the first epoch. The choice goes in the attempt
   * log and out as job.resumed.
   */
  private async fetchCheckpoint(spec: JobSpec, lease: Lease, log: AttemptLog): Promise<string | undefined> {
    const candidates = [spec.resumeFrom, ...(spec.earlierCheckpoints ?? [])].filter((c): c is CheckpointRef & { key: string } => c?.key !== undefined);
    if (!candidates.length) return undefined;
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    const skipped: { checkpoint: CheckpointRef; reason: string }[] = [];
    let chosen: { checkpoint: CheckpointRef; path: string } | undefined;
    for (const checkpoint of candidates) {
      // Streamed to the file, so a checkpoint of gigabytes is never held in memory.
      const path = join(this.cfg.AGENT_WORK_DIR, 'resume', lease.leaseId, basename(checkpoint.key));
      await mkdir(dirname(path), { recursive: true });
      // A checkpoint that is gone or damaged is skipped; a store that does not answer fails the attempt (retried).
      const actual = await this.store.getFile(checkpoint.key, path).catch((err) => (err instanceof ArtifactNotFoundError ? null : Promise.reject(classify(err, 'upload'))));
      const reason = actual === null ? 'is not in the store' : actual !== checkpoint.sha256 ? `does not match its checksum (sha256 ${actual}, recorded ${checkpoint.sha256})` : undefined;
      if (reason) {
        if (actual !== null) await rm(path, { force: true });
        skipped.push({ checkpoint, reason });
        log.add('checkpoint_skipped', `${checkpoint.key} ${reason}`);
        this.log.warn({ event: 'checkpoint_skipped', ...ref, key: checkpoint.key, msg: `${spec.jobId}#${spec.attempt}: checkpoint ${checkpoint.key} ${reason}` });
        continue;
      }
      chosen = { checkpoint, path };
      break;
    }
    if (chosen && skipped.length) log.add('resume_fallback', `from ${chosen.checkpoint.key}, the newest of the job's checkpoints that checks out (${skipped.length} newer skipped)`);
    else if (chosen) log.add('resume', `from ${chosen.checkpoint.key}`);
    else log.add('resume_none', `none of the job's ${candidates.length} checkpoints checks out: training from the first epoch`);
    await this.bus
      .publish('job.resumed', { ...ref, ...(chosen ? { checkpoint: chosen.checkpoint } : {}), skipped }, { id: `${lease.leaseId}-resumed` })
      .catch((err) => this.log.warn(`job.resumed of ${spec.jobId}#${spec.attempt} not sent: ${(err as Error).message}`));
    return chosen?.path;
  }

  /** Metric points the throttle held back, sent before the outcome so a finished run's series is whole; best effort. */
  private async flushMetrics(r: RunningAttempt): Promise<void> {
    const { spec, metrics } = r;
    while (metrics && metrics.size > 0) {
      const points = metrics.take();
      try {
        await this.bus.publish('job.progress', { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt, percent: metrics.lastPercent, points });
      } catch (err) {
        metrics.putBack(points);
        this.log.warn(`${points.length} metric points of ${spec.jobId}#${spec.attempt} not sent: ${(err as Error).message}`);
        return;
      }
    }
  }

  /** Best effort: a log that cannot be uploaded must not turn a trained model into a failure. */
  private async saveLog(r: RunningAttempt): Promise<void> {
    if (!r.log || !r.prefix) return;
    await this.artifacts.upload(r.prefix, { name: 'attempt.log', body: r.log.text() }).catch((err) => this.log.warn(`attempt log not saved: ${err.message}`));
  }

  private async report(r: RunningAttempt, cause: AttemptError): Promise<void> {
    const { spec, lease } = r;
    if (this.fenced.has(lease.leaseId)) {
      // The broker took the lease back and reported it lost; the scheduler has retried the job.
      r.log?.add('fenced', `lease ${lease.leaseId} taken back by the broker: ${cause.message}`);
      await this.saveLog(r);
      this.log.warn({
        event: 'attempt_fenced',
        jobId: spec.jobId,
        runId: spec.runId,
        symbol: spec.symbol,
        attempt: spec.attempt,
        leaseId: lease.leaseId,
        msg: `${spec.jobId}#${spec.attempt} stopped: its lease ${lease.leaseId} was taken back`,
      });
      return;
    }
    const err = this.shuttingDown && cause.errorType === 'cancelled' ? new AttemptError('agent_lost', true, `agent ${lease.agentId} shut down during the attempt`) : cause;
    r.log?.add(
      err.errorType === 'cancelled' ? 'job_cancelled' : 'job_failed',
      `${err.errorType}${err.retryable ? ' (retryable)' : ''}: ${err.message}${err.stackSummary ? `\n${err.stackSummary}` : ''}`,
    );
    await this.saveLog(r);
    await this.flushMetrics(r);
    const ref = { jobId: spec.jobId, runId: spec.runId, symbol: spec.symbol, attempt: spec.attempt };
    try {
      if (err.errorType === 'cancelled') {
        await this.retrying('publishing job.cancelled', () => this.bus.publish('job.cancelled', { ...ref, reason: err.message }, { id: `${lease.leaseId}-cancelled` }));
        this.log.warn({ event: 'job_cancelled', ...ref, reason: err.message, msg: `job ${spec.jobId}#${spec.attempt} cancelled: ${err.message}` });
        return;
      }
      await this.retrying('publishing job.failed', () =>
        this.bus.publish(
          'job.failed',
          { ...ref, agentId: lease.agentId, leaseId: lease.leaseId, errorType: err.errorType, retryable: err.retryable, message: err.message.slice(0, 4000), stackSummary: err.stackSummary },
          { id: `${lease.leaseId}-failed` },
        ),
      );
      this.log.error({ event: 'job_failed', ...ref, errorType: err.errorType, retryable: err.retryable, msg: `${spec.symbol}#${spec.attempt} (${err.errorType}): ${err.message}` });
    } catch (publishErr) {
      // Once this attempt leaves the heartbeat's running list, the broker takes its lease back after
      // BROKER_UNREPORTED_LEASE_SECONDS and the scheduler retries the job.
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
