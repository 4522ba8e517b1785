import { specHash, type JobDefinition, type JobStatus, type Priority, type RunState } from '@trainyard/contracts';

/** A run and its jobs as RunRepository.create takes them, for the repository specs: one job per symbol. */
export function storedRun(runId: string, symbols: string[], opts: { status: RunState; jobStatus: JobStatus; priority?: Priority; maxConcurrent?: number }) {
  const priority = opts.priority ?? 'normal';
  const jobs = symbols.map((symbol) => {
    const definition = { jobId: `${runId}-${symbol}`, runId, symbol, date: '2026-12-01', priority, timeoutMinutes: 60 } as unknown as JobDefinition;
    return {
      id: definition.jobId,
      runId,
      symbol,
      status: opts.jobStatus,
      errorMessage: null,
      checkpoint: null,
      attempt: 1,
      maxAttempts: 3,
      priorityRank: 1,
      expectedSeconds: 60,
      definition,
      specHash: specHash(definition),
    };
  });
  const run = {
    id: runId,
    date: '2026-12-01',
    trigger: 'api' as const,
    status: opts.status,
    mode: 'parallel' as const,
    maxConcurrent: opts.maxConcurrent ?? 4,
    priority,
    request: {} as never,
    totalJobs: jobs.length,
    skipped: [],
  };
  return { run, jobs };
}
