import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { DataSource, In, Not } from 'typeorm';
import { TERMINAL_JOB_STATES, type CostWindow, type QueryResponseInput, type RunView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { JobEntity } from '../runs/job.entity';
import { RunSpendStore } from '../runs/run-spend.store';
import { RunEntity } from '../runs/run.entity';
import { etaMinutes, jobView, runView, type JobPromotion, type JobTally } from './run-views';

/** Answers the bus's questions about runs, jobs and costs (the bot's /status, /runs, /cancel and /costs). */
@Injectable()
export class SchedulerQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subs: Subscription[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    private readonly spend: RunSpendStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subs = await Promise.all([
      this.bus.answer('runs.active', () => this.active()),
      this.bus.answer('runs.recent', ({ limit }) => this.recent(limit)),
      this.bus.answer('runs.find', ({ id }) => this.find(id)),
      this.bus.answer('runs.costs', () => this.costs()),
    ]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.subs.map((s) => s.drain()));
  }

  async active(): Promise<QueryResponseInput<'runs.active'>> {
    const runs = await this.ds.getRepository(RunEntity).find({ where: { status: 'running' }, order: { createdAt: 'ASC' } });
    const [{ n } = { n: 0 }]: { n: number }[] = await this.ds.query(`SELECT count(*)::int AS n FROM scheduler.jobs WHERE status IN ('leased', 'running')`);
    return { runs: await this.views(runs), slotsHeld: n };
  }

  async recent(limit: number): Promise<QueryResponseInput<'runs.recent'>> {
    const runs = await this.ds.getRepository(RunEntity).find({ order: { createdAt: 'DESC', id: 'ASC' }, take: limit });
    return { runs: await this.views(runs) };
  }

  async find(id: string): Promise<QueryResponseInput<'runs.find'>> {
    const run = await this.ds.getRepository(RunEntity).findOneBy({ id });
    if (run) {
      const [view] = await this.views([run]);
      if (!view) throw new Error(`no view of run ${id}: views() answers one per run`);
      return { run: view, job: null };
    }
    const job = await this.ds.getRepository(JobEntity).findOneBy({ id });
    if (!job) return { run: null, job: null };
    // Promotion is the run's to say, not the job definition's: the run's request holds it (defaults applied), a study's as off.
    const [promotion]: JobPromotion[] = await this.ds.query(`SELECT request->>'promote' AS promote, (request->>'canary')::boolean AS canary FROM scheduler.runs WHERE id = $1`, [job.runId]);
    if (!promotion) throw new Error(`job ${id} has no run ${job.runId}`);
    return { run: null, job: jobView(job, promotion) };
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
    // An aggregate without GROUP BY answers one row; the default is what it holds for no jobs.
    const [row = { cost: 0, jobs: 0, hours: 0, runs: 0 }]: { cost: number; jobs: number; hours: number; runs: number }[] = await this.ds.query(
      `SELECT coalesce(sum(cost), 0)::float AS cost, count(*)::int AS jobs, coalesce(sum(train_seconds), 0)::float / 3600 AS hours, count(DISTINCT run_id)::int AS runs
       FROM scheduler.jobs WHERE finished_at >= $1`,
      [since],
    );
    const { spend, instances } = await this.spend.spendSince(since);
    return { since: since.toISOString(), cost: row.cost, jobs: row.jobs, trainHours: row.hours, runs: row.runs, spend, instances };
  }

  /** Runs with their jobs counted by status, their work cost and spend so far, and for running ones an ETA. */
  private async views(runs: RunEntity[]): Promise<RunView[]> {
    if (runs.length === 0) return [];
    const ids = runs.map((r) => r.id);
    const rows: { run_id: string; status: string; n: number; cost: number }[] = await this.ds.query(
      `SELECT run_id, status, count(*)::int AS n, coalesce(sum(cost), 0)::float AS cost FROM scheduler.jobs WHERE run_id = ANY($1) GROUP BY run_id, status`,
      [ids],
    );
    const tallies = new Map<string, JobTally>();
    for (const r of rows) {
      const t = tallies.get(r.run_id) ?? { jobs: {}, cost: 0 };
      t.jobs[r.status] = r.n;
      t.cost += r.cost;
      tallies.set(r.run_id, t);
    }
    const spend = await this.spend.spendOfRuns(ids);
    const running = runs.filter((r) => r.status === 'running').map((r) => r.id);
    const open = running.length
      ? await this.ds.getRepository(JobEntity).find({
          select: { runId: true, status: true, expectedSeconds: true, progress: true },
          where: { runId: In(running), status: Not(In([...TERMINAL_JOB_STATES])) },
        })
      : [];
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
