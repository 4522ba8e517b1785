import { jobIdFor, releaseRank, specHash, specialistOf, type CapacitySummary, type Costs, type JobDefinition, type RunRequest } from '@trainyard/contracts';
import type { SchedulerConfig } from '../config/scheduler.config';

export interface PlannedJob {
  definition: JobDefinition;
  specHash: string;
  priorityRank: number;
  expectedSeconds: number;
}

export interface PlanInput {
  runId: string;
  date: string;
  request: RunRequest;
  symbols: string[];
  /** Mean past train seconds per symbol; missing symbols get the configured default. */
  pastSeconds: Map<string, number>;
  /** Trading costs of each symbol, fetched before planning and saved with the run. */
  costs: Record<string, Costs>;
  /** GPU memory each job declares; 0 runs it on a CPU slot. */
  gpuMemoryGb: number;
}

/** What a job declares: the request's figure, else nothing for the built-in (CPU) trainer, else the default where GPUs exist. */
export function gpuMemoryFor(request: RunRequest, cfg: SchedulerConfig, capacity: CapacitySummary | null): number {
  if (request.gpuMemoryGb !== undefined) return request.gpuMemoryGb;
  if (request.driver.kind === 'builtin' || !capacity?.gpus) return 0;
  return cfg.SCHEDULER_DEFAULT_GPU_MEMORY_GB;
}

export const JOBS_PER_GPU = 12;
export const CPU_CONCURRENCY = 2;

/**
 * Effective concurrency of a run: sequential is one at a time, parallel is bounded only by capacity,
 * hybrid by the request, the configured default, or 12 per GPU the broker has (2 without GPUs).
 */
export function concurrencyFor(request: RunRequest, cfg: SchedulerConfig, capacity: CapacitySummary | null): number {
  if (request.mode === 'sequential') return 1;
  if (request.mode === 'parallel') return request.maxConcurrent ?? 10_000;
  return request.maxConcurrent ?? cfg.SCHEDULER_DEFAULT_MAX_CONCURRENT ?? (capacity?.gpus ? JOBS_PER_GPU * capacity.gpus : CPU_CONCURRENCY);
}

/**
 * Pure: the same request, date and symbols give the same definitions, byte for byte. One job per
 * symbol and variant the request lists (the plain model alone when it lists none).
 */
export function planJobs(input: PlanInput, cfg: SchedulerConfig): PlannedJob[] {
  const { request } = input;
  const variants = (request.variants ?? ['default']).map(specialistOf);
  return input.symbols
    .flatMap((symbol) => variants.map((variant) => ({ symbol, variant })))
    .map(({ symbol, variant }) => {
      const costs = input.costs[symbol];
      if (!costs) throw new Error(`no trading costs for ${symbol}: they are fetched for every symbol before the run is planned`);
      const definition: JobDefinition = {
        jobId: jobIdFor(input.runId, symbol, variant),
        runId: input.runId,
        symbol,
        date: input.date,
        featureset: request.featureset,
        timeframe: request.timeframe ?? cfg.SCHEDULER_TIMEFRAME,
        lookbackCandles: request.lookbackCandles ?? cfg.SCHEDULER_LOOKBACK_CANDLES,
        model: { type: 'logistic', learningRate: 0.5, epochs: 30, seed: 42, ...request.model },
        costs,
        driver: request.driver,
        resources: { gpuMemoryGb: input.gpuMemoryGb, cpus: 1 },
        timeoutMinutes: request.timeoutMinutes ?? cfg.SCHEDULER_DEFAULT_TIMEOUT_MINUTES,
        priority: request.priority,
        purpose: request.purpose,
        // Only when asked for: definitions (and their spec hashes) of runs that do not ask stay as they were.
        ...(request.ensureFeatures ? { ensureFeatures: true } : {}),
        ...(variant ? { variant } : {}),
      };
      return {
        definition,
        specHash: specHash(definition),
        priorityRank: releaseRank(request.priority, request.purpose),
        expectedSeconds: input.pastSeconds.get(symbol) ?? cfg.SCHEDULER_DEFAULT_EXPECTED_MINUTES * 60,
      };
    });
}
