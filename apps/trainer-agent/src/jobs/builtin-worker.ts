import { parentPort, workerData } from 'node:worker_threads';
import { trainBuiltin, TrainingDataError } from '../training/builtin-training';
import type { ExecutionInput, WorkerMessage } from './training-executor';

/** Worker thread entry: training is CPU-bound and must not stall heartbeats or other jobs. */
const input = workerData as ExecutionInput;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
try {
  const result = trainBuiltin({
    ...input,
    onProgress: (progress) => post({ type: 'progress', progress }),
    onFeatures: (table) => post({ type: 'features', table }),
    onSplit: (split) => post({ type: 'split', split }),
    onCheckpoint: (checkpoint) => post({ type: 'checkpoint', checkpoint }),
    onLog: (line) => post({ type: 'log', line }),
  });
  post({ type: 'result', result });
} catch (err) {
  const e = err as Error;
  post({ type: 'error', name: e.name, message: e.message, stack: e.stack, dataError: err instanceof TrainingDataError });
}
