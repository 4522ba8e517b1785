import { parentPort, workerData } from 'node:worker_threads';
import type { JobSpec } from '@trainyard/contracts';
import { trainBuiltin, TrainingDataError } from '../training/builtin-trainer';
import type { Candle } from '../training/candles';

/** Worker thread entry: training is CPU-bound and must not stall heartbeats or other jobs. */
const { spec, candles } = workerData as { spec: JobSpec; candles?: Candle[] };
try {
  const result = trainBuiltin({ spec, candles, onProgress: (p) => parentPort!.postMessage({ type: 'progress', progress: p }) });
  parentPort!.postMessage({ type: 'result', result });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({ type: 'error', name: e.name, message: e.message, stack: e.stack, dataError: err instanceof TrainingDataError });
}
