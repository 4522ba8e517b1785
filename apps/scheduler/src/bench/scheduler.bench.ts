import { performance } from 'node:perf_hooks';
import { RunRequested } from '@trainyard/contracts';
import { schedulerEnv } from '../config/scheduler.config';
import { loadCosts } from '../costs/trading-costs';
import { planJobs } from '../runs/run-plan';
import { checkSymbols } from '../symbols/symbol-selection';
import { makespanLowerBound, simulateMakespan, type SimulatedJob } from './release-simulation';

export interface BenchResult {
  value: number;
  unit: string;
  target: string;
}

/** Seeded so every run measures the same workload. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Symbol selection, costs and deterministic job specs (with their hashes) for a run of `count` symbols. */
async function planRun(count: number): Promise<number> {
  const cfg = schedulerEnv.parse({});
  const symbols = Array.from({ length: count }, (_, i) => `S${String(i).padStart(5, '0')}USDT`);
  const request = RunRequested.parse({ schemaVersion: 1, id: 'bench', occurredAt: new Date().toISOString(), trigger: 'cli', symbols });
  const started = performance.now();
  const resolved = checkSymbols(request.symbols as string[]);
  const costs = await loadCosts(resolved.symbols);
  const jobs = planJobs({ runId: 'bench-run', date: '2026-11-22', request, symbols: resolved.symbols, pastSeconds: new Map(), costs, gpuMemoryGb: 0 }, cfg);
  const elapsed = performance.now() - started;
  if (jobs.length !== count) throw new Error(`planned ${jobs.length} jobs for ${count} symbols`);
  return elapsed;
}

export async function runSchedulerBench(): Promise<Record<string, BenchResult>> {
  await planRun(500);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push(await planRun(5000));
  const medianMs = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  if (medianMs === undefined) throw new Error('no planning timed');

  const random = lcg(42);
  // Train times spread like real symbols': most a few minutes, a long tail of big ones (log-normal).
  const jobs: SimulatedJob[] = Array.from({ length: 200 }, (_, i) => {
    const u1 = Math.max(random(), 1e-12);
    const u2 = random();
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const seconds = Math.round(300 * Math.exp(0.8 * normal));
    return { symbol: `J${i}`, seconds, expectedSeconds: seconds, priorityRank: 2 };
  });
  const makespan = simulateMakespan(jobs, 12);
  const bound = makespanLowerBound(jobs, 12);

  return {
    plan_5000_symbols: { value: Math.round(medianMs), unit: 'ms (median of 5)', target: '< 2000' },
    makespan_200_jobs_12_slots_vs_bound: { value: Number((makespan / bound).toFixed(4)), unit: 'ratio', target: '<= 1.05' },
  };
}
