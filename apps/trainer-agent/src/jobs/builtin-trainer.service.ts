import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import type { JobSpec, Lease } from '@trainyard/contracts';
import { Clock } from '@trainyard/runtime';
import type { ArtifactFile } from '../artifacts/artifact-publisher.service';
import type { BuiltinResult } from '../training/builtin-trainer';
import type { ProgressReport, TrainingRun } from './training-run';
import { MarketDataService } from '../market-data/market-data.service';
import { AttemptError } from './training-errors';
import { TrainingExecutor, type Execution } from './training-executor';

/** The `builtin` driver: the TypeScript trainer in a worker thread, and the files it leaves. */
@Injectable()
export class BuiltinTrainer {
  constructor(
    private readonly executor: TrainingExecutor,
    private readonly marketData: MarketDataService,
    private readonly clock: Clock,
  ) {}

  start(spec: JobSpec, lease: Lease, onProgress: (p: ProgressReport) => void): TrainingRun {
    const startedAt = this.clock.now();
    let execution: Execution | undefined;
    let stopReason: string | null = null;
    const result = (async () => {
      const candles = await this.marketData.candlesFor(spec);
      if (stopReason) throw new AttemptError('cancelled', false, stopReason);
      execution = this.executor.start(spec, candles, (p) => onProgress(p));
      const r = await execution.result;
      const trainSeconds = (this.clock.now().getTime() - startedAt.getTime()) / 1000;
      return {
        featureset: r.featureset,
        metrics: r.metrics,
        evaluationWindow: r.evaluationWindow,
        files: this.files(spec, lease, r, startedAt, trainSeconds),
        summary: `hit rate ${r.metrics.directionalHitRate.toFixed(4)} sharpe ${r.metrics.sharpe.toFixed(3)} best epoch ${r.bestEpoch} in ${trainSeconds.toFixed(1)} s`,
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

  private files(spec: JobSpec, lease: Lease, result: BuiltinResult, startedAt: Date, trainSeconds: number): ArtifactFile[] {
    const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
    return [
      { name: 'split_indices.json', body: json(result.splitIndices) },
      { name: 'training_log.json', body: json(result.trainingLog) },
      { name: 'model.bin', body: Buffer.from(JSON.stringify({ format: 'trainyard.logistic.v1', model: result.model, scaler: result.scaler, featureNames: result.featureNames })) },
      { name: 'config.json', body: json({ model: spec.model, featureset: result.featureset, featureNames: result.featureNames, timeframe: spec.timeframe, lookbackCandles: spec.lookbackCandles, bestEpoch: result.bestEpoch }) },
      { name: 'metrics.json', body: json({ ...result.metrics, regimes: result.regimes, evaluationWindow: result.evaluationWindow, costs: spec.costs }) },
      {
        name: 'runtime.json',
        body: json({ agentId: lease.agentId, host: hostname(), device: lease.device, node: process.version, startedAt: startedAt.toISOString(), trainSeconds, leaseId: lease.leaseId }),
      },
      { name: 'job.json', body: json(spec) },
    ];
  }
}
