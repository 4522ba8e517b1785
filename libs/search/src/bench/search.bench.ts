import { performance } from 'node:perf_hooks';
import { Rng, sampleRandom } from '../random';
import { parseSpace, type Params } from '../space';
import { suggest, type StudyConfig } from '../study';
import type { TrialRecord } from '../trial';

export interface BenchResult {
  value: number;
  unit: string;
  target: string;
}

/** A realistic mixed space: log float, plain float, stepped float, int, log int, categorical. */
const space = parseSpace({
  lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
  dropout: { type: 'float', low: 0, high: 0.5 },
  weightDecay: { type: 'float', low: 0, high: 0.1, step: 0.005 },
  layers: { type: 'int', low: 1, high: 16 },
  batch: { type: 'int', low: 16, high: 1024, log: true },
  optimizer: { type: 'categorical', choices: ['adam', 'adamw', 'sgd', 'lion'] },
});

const objective = (p: Params) =>
  (Math.log10(p.lr as number) + 3) ** 2 + ((p.dropout as number) - 0.2) ** 2 + (p.weightDecay as number) + ((p.layers as number) - 6) ** 2 / 25 + (p.optimizer === 'adamw' ? 0 : 0.3);

/** Seeded history of `n` finished trials, a tenth of them pruned, so every run measures the same workload. */
function history(n: number): TrialRecord[] {
  const rng = new Rng(42);
  return Array.from({ length: n }, (_, i) => {
    const params = sampleRandom(space, 42, i);
    const value = objective(params);
    return rng.next() < 0.1
      ? {
          number: i,
          params,
          state: 'pruned',
          intermediate: [
            [0, value + 1],
            [1, value + 0.5],
          ],
        }
      : { number: i, params, state: 'complete', value, intermediate: [] };
  });
}

/** Median milliseconds of `runs` calls of fn(i), after a few warm-up calls. */
function medianMs(runs: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < 3; i++) fn(-1 - i);
  const times = Array.from({ length: runs }, (_, i) => {
    const started = performance.now();
    fn(i);
    return performance.now() - started;
  });
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)] ?? NaN;
}

export async function runSearchBench(): Promise<Record<string, BenchResult>> {
  const past = history(1000);
  const tpe: StudyConfig = { space, sampler: 'tpe', seed: 7, direction: 'minimize' };
  const random: StudyConfig = { ...tpe, sampler: 'random' };
  const tpeMs = medianMs(30, (i) => suggest(tpe, past, 1000 + Math.abs(i)));
  const randomMs = medianMs(200, (i) => suggest(random, past, 1000 + Math.abs(i)));
  return {
    search_tpe_suggest_1000_trials_6_params: { value: Number(tpeMs.toFixed(2)), unit: 'ms (median of 30)', target: '< 50 ms' },
    search_random_suggest_6_params: { value: Number(randomMs.toFixed(3)), unit: 'ms (median of 200)', target: '< 1 ms' },
  };
}
