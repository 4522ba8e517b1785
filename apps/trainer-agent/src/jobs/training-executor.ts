import { Injectable } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { JobSpec } from '@trainyard/contracts';
import { trainBuiltin, TrainingDataError, type BuiltinCheckpoint, type BuiltinProgress, type BuiltinResult, type FeatureTable } from '../training/builtin-training';
import type { Candle } from '../training/candles';
import type { SplitIndices } from '../training/split';
import { AttemptError, summarizeStack } from './training-errors';

export interface ExecutionInput {
  spec: JobSpec;
  candles?: Candle[];
  features?: FeatureTable;
  resumeFrom?: BuiltinCheckpoint;
  checkpointEvery?: number;
}

/** What the trainer hands out as it goes; called on the agent's thread, in order. */
export interface ExecutionHooks {
  onProgress(p: BuiltinProgress): void;
  onFeatures(table: FeatureTable): void;
  onSplit(split: SplitIndices): void;
  onCheckpoint(checkpoint: BuiltinCheckpoint): void;
  onLog(line: string): void;
}

/** Messages from the worker thread, one per hook, then the result or the error. */
export type WorkerMessage =
  | { type: 'progress'; progress: BuiltinProgress }
  | { type: 'features'; table: FeatureTable }
  | { type: 'split'; split: SplitIndices }
  | { type: 'checkpoint'; checkpoint: BuiltinCheckpoint }
  | { type: 'log'; line: string }
  | { type: 'result'; result: BuiltinResult }
  | { type: 'error'; name: string; message: string; stack?: string; dataError: boolean };

export interface Execution {
  result: Promise<BuiltinResult>;
  /** Stops the training; the result then rejects with a `cancelled` error. */
  stop(reason: string): void;
}

/**
 * Runs the built-in trainer in a worker thread so a long fit never blocks heartbeats. From sources
 * (under ts-jest) there is no compiled worker, and training runs in the calling thread instead.
 */
@Injectable()
export class TrainingExecutor {
  private readonly workerFile = join(__dirname, 'builtin-worker.js');

  start(input: ExecutionInput, hooks: ExecutionHooks): Execution {
    if (!existsSync(this.workerFile)) return this.inline(input, hooks);
    const worker = new Worker(this.workerFile, { workerData: input, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
    let stopReason: string | null = null;
    const result = new Promise<BuiltinResult>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'progress') hooks.onProgress(m.progress);
        else if (m.type === 'features') hooks.onFeatures(m.table);
        else if (m.type === 'split') hooks.onSplit(m.split);
        else if (m.type === 'checkpoint') hooks.onCheckpoint(m.checkpoint);
        else if (m.type === 'log') hooks.onLog(m.line);
        else if (m.type === 'result') resolve(m.result);
        else if (m.type === 'error') {
          reject(m.dataError ? new AttemptError('bad_data', false, m.message, summarizeStack(m.stack)) : new AttemptError('trainer_error', false, m.message, summarizeStack(m.stack)));
        }
      });
      worker.on('error', (err) => reject(/memory/i.test(err.message) ? new AttemptError('oom', true, err.message, summarizeStack(err.stack)) : err));
      worker.on('exit', (code) => {
        if (stopReason) reject(new AttemptError('cancelled', false, stopReason));
        else if (code !== 0) reject(new AttemptError('trainer_error', false, `training worker exited with code ${code}`));
      });
    });
    return {
      result,
      stop: (reason) => {
        stopReason = reason;
        void worker.terminate();
      },
    };
  }

  private inline(input: ExecutionInput, hooks: ExecutionHooks): Execution {
    let stopReason: string | null = null;
    const result = new Promise<BuiltinResult>((resolve, reject) => {
      setImmediate(() => {
        if (stopReason) return reject(new AttemptError('cancelled', false, stopReason));
        try {
          resolve(trainBuiltin({ ...input, ...hooks }));
        } catch (err) {
          const e = err as Error;
          reject(new AttemptError(err instanceof TrainingDataError ? 'bad_data' : 'trainer_error', false, e.message, summarizeStack(e.stack)));
        }
      });
    });
    return { result, stop: (reason) => (stopReason = reason) };
  }
}
