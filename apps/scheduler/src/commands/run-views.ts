import { TERMINAL_JOB_STATES, type RunView } from '@trainyard/contracts';
import type { JobEntity } from '../repositories/job.entity';
import type { JobTally } from '../repositories/job.repository';
import type { RunEntity } from '../repositories/run.entity';

type OpenJob = Pick<JobEntity, 'status' | 'expectedSeconds' | 'progress'>;

/**
 * Minutes until a run's last job should finish: each unfinished job's remaining time (the agent's
 * own estimate when it sent one, else the expected duration less the progress made), spread over
 * the run's slots, and never less than its longest job.
 */
export function etaMinutes(jobs: OpenJob[], maxConcurrent: number, now: Date): number {
  const remaining = jobs
    .filter((j) => !TERMINAL_JOB_STATES.has(j.status))
    .map((j) => {
      const p = j.progress;
      if (p?.etaSeconds !== undefined) return Math.max(0, p.etaSeconds - (now.getTime() - Date.parse(p.at)) / 1000);
      return j.expectedSeconds * (1 - (j.status === 'running' && p ? p.percent / 100 : 0));
    });
  if (remaining.length === 0) return 0;
  const slots = Math.max(1, Math.min(maxConcurrent, remaining.length));
  const total = remaining.reduce((a, b) => a + b, 0);
  return Math.round((Math.max(Math.max(...remaining), total / slots) / 60) * 10) / 10;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function runView(run: RunEntity, tally: JobTally | undefined, eta: number | null, spend = 0): RunView {
  return {
    runId: run.id,
    date: run.date,
    trigger: run.trigger,
    status: run.status,
    mode: run.mode,
    maxConcurrent: run.maxConcurrent,
    requestedBy: run.request.requestedBy ?? null,
    createdAt: run.createdAt.toISOString(),
    startedAt: iso(run.startedAt),
    completedAt: iso(run.completedAt),
    totalJobs: run.totalJobs,
    jobs: tally?.jobs ?? {},
    cost: Math.round((tally?.cost ?? 0) * 1e6) / 1e6,
    spend,
    etaMinutes: eta,
  };
}
