import { Inject, Injectable } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { JobSpec, Lease } from '@trainyard/contracts';
import { Clock } from '@trainyard/runtime';
import { ArtifactPublisher, type ArtifactFile, type InMemoryFile } from '../artifacts/artifact-publisher.service';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { featureFileMeta } from '../market-data/feature-parquet';
import { FeatureStore } from '../market-data/feature-store.service';
import { MarketDataService } from '../market-data/market-data.service';
import { CHECKPOINT_FORMAT, type BuiltinCheckpoint, type BuiltinResult, type FeatureTable } from '../training/builtin-training';
import type { ProgressReport, TrainingRun } from './training-run';
import { AttemptError, classify } from './training-errors';
import { TrainingExecutor, type Execution } from './training-executor';

export interface BuiltinHooks {
  onProgress(p: ProgressReport): void;
  onLog(line: string): void;
  /** A partial output (features.parquet, split_indices.json, training_log.json) to write and upload now. */
  onPartial(file: InMemoryFile): Promise<void>;
  /** A checkpoint, already in the work folder, to upload and announce. */
  onCheckpoint(file: ArtifactFile): Promise<void>;
  /** Local copy of the checkpoint to resume from, fetched and checked by the caller. */
  resumePath?: string;
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

/** Runs async steps one after another in the order they were queued; the first failure is kept. */
class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;

  push(step: () => Promise<unknown>): void {
    this.tail = this.tail.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await step();
      } catch (err) {
        this.failure = err ?? new Error('a partial output step failed');
      }
    });
  }

  /** Waits for every queued step; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * The `builtin` driver: the TypeScript trainer in a worker thread. Its partial outputs are written
 * and uploaded as they appear (features, split, training log with each checkpoint), checkpoints go
 * up as they are made, features come from the feature store when it has them, and an attempt
 * handed a checkpoint continues after its epoch.
 */
@Injectable()
export class BuiltinTrainer {
  constructor(
    private readonly executor: TrainingExecutor,
    private readonly marketData: MarketDataService,
    private readonly featureStore: FeatureStore,
    private readonly publisher: ArtifactPublisher,
    private readonly clock: Clock,
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
  ) {}

  start(spec: JobSpec, lease: Lease, workDir: string, hooks: BuiltinHooks): TrainingRun {
    const startedAt = this.clock.now();
    let execution: Execution | undefined;
    let stopReason: string | null = null;
    const outputs = new SerialQueue();
    const result = (async () => {
      const source = this.marketData.sourceFor(spec);
      const stored = await this.featureStore.load(spec, source);
      let candles;
      if (stored.status === 'loaded') {
        hooks.onLog(`features_loaded from ${stored.key}`);
        outputs.push(() => hooks.onPartial({ name: 'features.parquet', body: stored.parquet }));
      } else {
        if (stored.status !== 'missing') hooks.onLog(`stored features at ${stored.key} not used (${stored.reason}): computing them`);
        candles = await this.marketData.candlesFor(spec);
      }
      if (stopReason) throw new AttemptError('cancelled', false, stopReason);
      const resumeFrom = await this.readCheckpoint(hooks);

      execution = this.executor.start(
        { spec, candles, features: stored.status === 'loaded' ? stored.table : undefined, resumeFrom, checkpointEvery: this.cfg.AGENT_CHECKPOINT_EVERY_EPOCHS || undefined },
        {
          onProgress: (p) => hooks.onProgress(p),
          onLog: (line) => hooks.onLog(line),
          onFeatures: (table) => outputs.push(() => this.featuresComputed(spec, source, table, stored.status, hooks)),
          onSplit: (split) => outputs.push(() => hooks.onPartial({ name: 'split_indices.json', body: json(split) })),
          onCheckpoint: (checkpoint) =>
            outputs.push(async () => {
              const name = `epoch-${String(checkpoint.state.epoch).padStart(4, '0')}.json`;
              const file = { name, body: JSON.stringify(checkpoint) };
              await this.publisher.writeLocal(join(workDir, 'checkpoints'), file);
              await hooks.onCheckpoint({ name: `checkpoints/${name}`, body: file.body });
              await hooks.onPartial({ name: 'training_log.json', body: json(checkpoint.state.log.map(({ epoch, loss, validationMetric }) => ({ epoch, loss, validationMetric }))) });
            }),
        },
      );
      const r = await execution.result.finally(() => outputs.drain().catch(() => undefined));
      await outputs.drain().catch((err) => Promise.reject(classify(err, 'upload')));
      const trainSeconds = (this.clock.now().getTime() - startedAt.getTime()) / 1000;
      return {
        featureset: r.featureset,
        metrics: r.metrics,
        ...(r.allData ? { allDataMetrics: r.allData.metrics } : {}),
        evaluationWindow: r.evaluationWindow,
        files: this.files(spec, lease, r, startedAt, trainSeconds),
        summary: `hit rate ${r.metrics.directionalHitRate.toFixed(4)} sharpe ${r.metrics.sharpe.toFixed(3)} best epoch ${r.bestEpoch}${r.resumedFromEpoch ? ` (resumed after epoch ${r.resumedFromEpoch})` : ''} in ${trainSeconds.toFixed(1)} s`,
      };
    })();
    return {
      result,
      stop: (reason) => {
        stopReason = reason;
        execution?.stop(reason);
      },
    };
  }

  /** features.parquet for the attempt, and for the feature store when the job ensures features and none usable is there. */
  private async featuresComputed(spec: JobSpec, source: string, table: FeatureTable, stored: string, hooks: BuiltinHooks): Promise<void> {
    const parquet = await this.featureStore.encode(table, featureFileMeta(spec, source));
    await hooks.onPartial({ name: 'features.parquet', body: parquet });
    if (!spec.ensureFeatures) return;
    const key = FeatureStore.key(spec);
    if (stored === 'mismatch') {
      hooks.onLog(`features not stored: ${key} holds features of other candles, left as they are`);
      return;
    }
    const sha256 = await this.featureStore.save(key, parquet);
    hooks.onLog(`features_stored at ${key} sha256 ${sha256}`);
  }

  /** The checkpoint to continue from; one that cannot be read is reported and training starts from the first epoch. */
  private async readCheckpoint(hooks: BuiltinHooks): Promise<BuiltinCheckpoint | undefined> {
    if (!hooks.resumePath) return undefined;
    try {
      const checkpoint = JSON.parse(await readFile(hooks.resumePath, 'utf8')) as BuiltinCheckpoint;
      if (checkpoint?.format !== CHECKPOINT_FORMAT || !checkpoint.state) throw new Error(`not a ${CHECKPOINT_FORMAT} checkpoint`);
      return checkpoint;
    } catch (err) {
      hooks.onLog(`checkpoint ${hooks.resumePath} not usable (${(err as Error).message}): training from the first epoch`);
      return undefined;
    }
  }

  private files(spec: JobSpec, lease: Lease, result: BuiltinResult, startedAt: Date, trainSeconds: number): ArtifactFile[] {
    return [
      { name: 'training_log.json', body: json(result.trainingLog) },
      { name: 'model.bin', body: Buffer.from(JSON.stringify({ format: 'trainyard.logistic.v1', model: result.model, scaler: result.scaler, featureNames: result.featureNames })) },
      {
        name: 'config.json',
        body: json({
          model: spec.model,
          featureset: result.featureset,
          featureNames: result.featureNames,
          timeframe: spec.timeframe,
          lookbackCandles: spec.lookbackCandles,
          bestEpoch: result.bestEpoch,
          resumedFromEpoch: result.resumedFromEpoch,
        }),
      },
      {
        name: 'metrics.json',
        body: json({
          ...result.metrics,
          regimes: result.regimes,
          ...(spec.variant ? { variant: spec.variant, allData: result.allData } : {}),
          evaluationWindow: result.evaluationWindow,
          costs: spec.costs,
        }),
      },
      // Compact: up to 500 points, read by charts rather than people.
      { name: 'equity.json', body: JSON.stringify(result.equity) + '\n' },
      {
        name: 'runtime.json',
        body: json({ agentId: lease.agentId, host: hostname(), device: lease.device, node: process.version, startedAt: startedAt.toISOString(), trainSeconds, leaseId: lease.leaseId }),
      },
      { name: 'job.json', body: json(spec) },
    ];
  }
}
