import type { Metrics } from '@trainyard/contracts';
import type { ArtifactFile } from '../artifacts/artifact-publisher.service';

export interface ProgressReport {
  percent: number;
  epoch?: number;
  epochs?: number;
  step?: number;
  loss?: number;
  validationMetric?: number;
  etaSeconds?: number;
  /** Anything else the trainer reports at this step, by name. */
  metrics?: Record<string, number>;
}

/** What a driver hands back: the evaluation and the files to upload as the attempt's artifacts. */
export interface TrainingOutcome {
  featureset: string;
  metrics: Metrics;
  /** A specialist's metrics on all data of its test period (`metrics` are its own regime's). */
  allDataMetrics?: Metrics;
  evaluationWindow: { from: string; to: string; candles: number };
  files: ArtifactFile[];
  /** One line for the attempt log. */
  summary: string;
}

/** A training in progress, whatever runs it. */
export interface TrainingRun {
  result: Promise<TrainingOutcome>;
  /** Stops the training; the result then rejects with a `cancelled` error. */
  stop(reason: string): void;
}
