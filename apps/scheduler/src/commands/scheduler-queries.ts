import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import type { CostWindow, QueryResponseInput, RunView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { JobRepository } from '../repositories/job.repository';
import { RunSpendRepository } from '../repositories/run-spend.repository';
import type { RunEntity } from '../repositories/run.entity';
import { RunRepository } from '../repositories/run.repository';
import { etaMinutes, runView } from './run-views';

/** Answers the bus's questions about runs, jobs and costs (the bot's /status, /runs, /cancel and /costs). */
@Injectable()
export class SchedulerQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subs: Subscription[] = [];

  constructor(
    private readonly runs: RunRepository,
    private readonly jobs: JobRepository,
    private readonly spend: RunSpendRepository,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subs = await Promise.all([
      this.bus.answer('runs.active', () => this.active()),
      this.bus.answer('runs.recent', ({ limit }) => this.recent(limit)),
      this.bus.answer('runs.find', ({ id, kind }) => this.find(id, kind)),
      this.bus.answer('runs.jobs', async ({ ids }) => ({ jobs: await this.jobs.views(ids) })),
      this.bus.answer('runs.costs', () => this.costs()),
    ]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.subs.map((s) => s.drain()));
  }

  async active(): Promise<QueryResponseInput<'runs.active'>> {
    return { runs: await this.views(await this.runs.running()), slotsHeld: await this.jobs.slotsHeld() };
  }

  async recent(limit: number): Promise<QueryResponseInput<'runs.recent'>> {
    return { runs: await this.views(await this.runs.recent(limit)) };
  }

  /** A run by that id, else a job; `kind` looks for only the one the asker means. */
  async find(id: string, kind?: 'run' | 'job'): Promise<QueryResponseInput<'runs.find'>> {
    if (kind !== 'job') {
      const run = await this.runs.find(id);
      if (run) {
        const [view] = await this.views([run]);
        if (!view) throw new Error(`no view of run ${id}: views() answers one per run`);
        return { run: view, job: null };
      }
      if (kind === 'run') return { run: null, job: null };
    }
    // Promotion is the run's to say, not the job definition's: the run's request holds it (defaults applied), a study's as off.
    return { run: null, job: await this.jobs.view(id) };
  }

  /**
   * Since midnight UTC and since Monday: what finished jobs cost (work: their leases, the figures run
   * summaries' `cost` adds up) and what the instances destroyed cost (spend: what the provider billed).
   */
  async costs(): Promise<QueryResponseInput<'runs.costs'>> {
    const now = this.clock.now();
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const monday = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * 86_400_000);
    return { today: await this.costSince(today), week: await this.costSince(monday) };
  }

  private async costSince(since: Date): Promise<CostWindow> {
    const work = await this.jobs.finishedSince(since);
    const { spend, instances } = await this.spend.spendSince(since);
    return { since: since.toISOString(), cost: work.cost, jobs: work.jobs, trainHours: work.hours, runs: work.runs, spend, instances };
  }

  /** Runs with their jobs counted by status, their work cost and spend so far, and for running ones an ETA. */
  private async views(runs: RunEntity[]): Promise<RunView[]> {
    if (runs.length === 0) return [];
    const ids = runs.map((r) => r.id);
    const tallies = await this.jobs.tallies(ids);
    const spend = await this.spend.spendOfRuns(ids);
    const open = await this.jobs.open(runs.filter((r) => r.status === 'running').map((r) => r.id));
    const now = this.clock.now();
    return runs.map((run) => {
      const eta =
        run.status === 'running'
          ? etaMinutes(
              open.filter((j) => j.runId === run.id),
              run.maxConcurrent,
              now,
            )
          : null;
      return runView(run, tallies.get(run.id), eta, spend.get(run.id) ?? 0);
    });
  }
}
