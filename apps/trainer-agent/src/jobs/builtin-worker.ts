import { parentPort, workerData } from 'node:worker_threads';
import type { JobSpec } from '@trainyard/contracts';
import { trainBuiltin, TrainingDataError } from '../training/builtin-trainer';

/** Worker thread entry: training is CPU-bound and must not stall heartbeats or other jobs. */
const { spec } = workerData as { spec: JobSpec };
try {
  const result = trainBuiltin({ spec, onProgress: (p) => parentPort!.postMessage({ type: 'progress', progress: p }) });
  parentPort!.postMessage({ type: 'result', result });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({ type: 'error', name: e.name, message: e.message, stack: e.stack, dataError: err instanceof TrainingDataError });
}
