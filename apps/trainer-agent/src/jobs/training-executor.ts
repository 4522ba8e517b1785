import { Injectable } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { JobSpec } from '@trainyard/contracts';
import { trainBuiltin, TrainingDataError, type BuiltinProgress, type BuiltinResult } from '../training/builtin-trainer';
import type { Candle } from '../training/candles';
import { AttemptError, summarizeStack } from './training-errors';

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

  start(spec: JobSpec, candles: Candle[] | undefined, onProgress: (p: BuiltinProgress) => void): Execution {
    if (!existsSync(this.workerFile)) return this.inline(spec, candles, onProgress);
    const worker = new Worker(this.workerFile, { workerData: { spec, candles }, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
    let stopReason: string | null = null;
    const result = new Promise<BuiltinResult>((resolve, reject) => {
      worker.on('message', (m) => {
        if (m.type === 'progress') onProgress(m.progress);
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

  private inline(spec: JobSpec, candles: Candle[] | undefined, onProgress: (p: BuiltinProgress) => void): Execution {
    let stopReason: string | null = null;
    const result = new Promise<BuiltinResult>((resolve, reject) => {
      setImmediate(() => {
        if (stopReason) return reject(new AttemptError('cancelled', false, stopReason));
        try {
          resolve(trainBuiltin({ spec, candles, onProgress }));
        } catch (err) {
          const e = err as Error;
          reject(new AttemptError(err instanceof TrainingDataError ? 'bad_data' : 'trainer_error', false, e.message, summarizeStack(e.stack)));
        }
      });
    });
    return { result, stop: (reason) => (stopReason = reason) };
  }
}
