import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { EventMessage } from '@trainyard/contracts';
import { RunEntity } from './run.entity';

type Queryable = Pick<EntityManager, 'query'>;

const round = (n: number) => Math.round(n * 1e6) / 1e6;

/** The run's share of the instances destroyed so far (what the provider billed), 0 when none. */
export async function runSpend(q: Queryable, runId: string): Promise<number> {
  // An aggregate without GROUP BY answers one row; the default is what it holds for no instances.
  const [{ spend } = { spend: 0 }]: { spend: number }[] = await q.query(`SELECT coalesce(sum(cost), 0)::float AS spend FROM scheduler.run_spend WHERE run_id = $1`, [runId]);
  return round(spend);
}

/**
 * What the GPU provider billed, from the broker's instance.destroyed: each instance once (by its
 * label), and its cost split among the runs it was attributed to.
 */
@Injectable()
export class RunSpendRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Records an instance's spend and its runs' shares, each once: a redelivered or republished message
   * adds nothing. For every run that got a new share and already has a summary (it completed before
   * its instance went), the summary's spend is set again under the run's lock and `updated` is called
   * there, in the same transaction. Returns the runs that got a new share.
   */
  async record(m: EventMessage<'instance.destroyed'>, now: Date, updated: (run: RunEntity) => Promise<void>): Promise<string[]> {
    const destroyedAt = new Date(m.occurredAt);
    return this.ds.transaction(async (em) => {
      await em.query(
        `INSERT INTO scheduler.instance_spend (label, instance_id, reason, seconds, cost, compute, storage, message_id, destroyed_at, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (label) DO NOTHING`,
        [m.label, m.instanceId, m.reason, m.seconds, m.cost, m.compute, m.storage, m.id, destroyedAt, now],
      );
      // One share per run, however the message lists them.
      const shares = new Map<string, number>();
      for (const r of m.runs) shares.set(r.runId, (shares.get(r.runId) ?? 0) + r.cost);
      // Runs are locked in id order, so two instances of the same runs never wait on each other.
      const runIds = [...shares.keys()].sort();
      const added: string[] = [];
      for (const runId of runIds) {
        const inserted: unknown[] = await em.query(
          `INSERT INTO scheduler.run_spend (label, run_id, cost, destroyed_at, recorded_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (label, run_id) DO NOTHING RETURNING run_id`,
          [m.label, runId, shares.get(runId), destroyedAt, now],
        );
        if (inserted.length) added.push(runId);
      }
      for (const runId of added) {
        const run = await em.getRepository(RunEntity).findOne({ where: { id: runId }, lock: { mode: 'pessimistic_write' } });
        if (!run?.summary) continue;
        // Summed after the lock is held: a share another instance committed meanwhile is in it.
        run.summary = { ...run.summary, spend: await runSpend(em, runId) };
        await em.getRepository(RunEntity).update({ id: runId }, { summary: run.summary });
        await updated(run);
      }
      return added;
    });
  }

  /** The run's share so far. */
  ofRun(runId: string): Promise<number> {
    return runSpend(this.ds, runId);
  }

  /** Each run's share so far. */
  async spendOfRuns(runIds: string[]): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const rows: { run_id: string; spend: number }[] = await this.ds.query(`SELECT run_id, sum(cost)::float AS spend FROM scheduler.run_spend WHERE run_id = ANY($1) GROUP BY run_id`, [runIds]);
    return new Map(rows.map((r) => [r.run_id, round(r.spend)]));
  }

  /** What the instances destroyed since `since` cost, used by a run or not, and how many they were. */
  async spendSince(since: Date): Promise<{ spend: number; instances: number }> {
    const [row = { spend: 0, instances: 0 }]: { spend: number; instances: number }[] = await this.ds.query(
      `SELECT coalesce(sum(cost), 0)::float AS spend, count(*)::int AS instances FROM scheduler.instance_spend WHERE destroyed_at >= $1`,
      [since],
    );
    return { spend: round(row.spend), instances: row.instances };
  }
}
