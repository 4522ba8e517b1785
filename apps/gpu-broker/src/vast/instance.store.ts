import { Injectable } from '@nestjs/common';
import { instanceStatesInto, LIVE_INSTANCE_STATES, type InstanceStatus } from '@trainyard/contracts';
import { DataSource, In, type EntityManager } from 'typeorm';
import { InstanceEntity } from './instance.entity';
import { instanceSpend } from './instance-spend';

/** The broker's record of every instance it rented, written before each call to the API. */
@Injectable()
export class InstanceStore {
  constructor(private readonly ds: DataSource) {}

  private repo(em: EntityManager = this.ds.manager) {
    return em.getRepository(InstanceEntity);
  }

  async insert(row: InstanceEntity): Promise<void> {
    await this.repo().insert(row);
  }

  /** Fields that are not the state (price, spend, where SSH answers); the state moves only through transition(). */
  async update(id: string, fields: Partial<Omit<InstanceEntity, 'status' | 'version'>>): Promise<void> {
    await this.repo().update({ id }, fields);
  }

  /**
   * Moves the row to `to` if the state machine allows it from the state the row has now, in one
   * conditional write; returns the new version, or null when the move was not allowed (another path
   * got there first: a destroy after a destroy, a stale handler).
   */
  async transition(id: string, to: InstanceStatus, fields: Partial<Omit<InstanceEntity, 'status' | 'version'>> = {}): Promise<number | null> {
    const result = await this.repo()
      .createQueryBuilder()
      .update(InstanceEntity)
      .set({ ...fields, status: to, version: () => 'version + 1' })
      .where('id = :id AND status IN (:...from)', { id, from: instanceStatesInto(to) })
      .returning(['version'])
      .execute();
    const raw = result.raw as Array<{ version: number }>;
    const [row] = raw;
    return raw.length === 1 && row ? Number(row.version) : null;
  }

  get(id: string): Promise<InstanceEntity | null> {
    return this.repo().findOneBy({ id });
  }

  live(em?: EntityManager): Promise<InstanceEntity[]> {
    return this.repo(em).find({ where: { status: In([...LIVE_INSTANCE_STATES]) }, order: { createdAt: 'ASC' } });
  }

  /** Destroyed instances whose instance.destroyed has not reached the bus, destroyed before `before`. */
  unannouncedDestroyed(before: Date): Promise<InstanceEntity[]> {
    return this.repo().createQueryBuilder('i').where(`i.status = 'destroyed' AND NOT i.destroyed_published AND i.destroyed_at < :before`, { before }).orderBy('i.destroyed_at', 'ASC').getMany();
  }

  withStatus(statuses: InstanceStatus[]): Promise<InstanceEntity[]> {
    return this.repo().find({ where: { status: In(statuses) }, order: { createdAt: 'ASC' } });
  }

  /** Records that this broker process is alive (and so are the instances it tunnels to). */
  async beat(bootId: string, at: Date): Promise<void> {
    await this.ds.query(
      `INSERT INTO broker.processes (boot_id, started_at, last_seen_at) VALUES ($1, $2, $2)
       ON CONFLICT (boot_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at`,
      [bootId, at],
    );
  }

  async forgetProcess(bootId: string): Promise<void> {
    await this.ds.query(`DELETE FROM broker.processes WHERE boot_id = $1`, [bootId]);
  }

  /** Broker processes seen since `since`, this one included. */
  async liveProcesses(since: Date): Promise<Set<string>> {
    const rows: Array<{ boot_id: string }> = await this.ds.query(`SELECT boot_id FROM broker.processes WHERE last_seen_at >= $1`, [since]);
    return new Set(rows.map((r) => r.boot_id));
  }

  /** Live rows of broker processes that stopped beating: nothing holds their tunnel any more. */
  async orphans(alive: Set<string>): Promise<InstanceEntity[]> {
    const rows = await this.repo().find({ where: { status: In(LIVE_INSTANCE_STATES.filter((s) => s !== 'destroying')) } });
    return rows.filter((r) => !alive.has(r.bootId));
  }

  /** What the account paid in [since, now) for every instance that existed then, as the bill counts it. */
  async spentSince(since: Date, now: Date): Promise<number> {
    const rows = await this.repo().createQueryBuilder('i').where('i.destroyed_at IS NULL OR i.destroyed_at > :since', { since }).andWhere('i.vast_id IS NOT NULL').getMany();
    return rows.reduce((sum, r) => sum + instanceSpend(r, now).total - instanceSpend(r, new Date(Math.max(since.getTime(), r.createdAt.getTime()))).total, 0);
  }

  /** Seconds of finished and running leases on an agent, per run: how an instance's spend is shared. */
  async leaseSecondsByRun(agentId: string, now: Date): Promise<Map<string, number>> {
    const rows: Array<{ run_id: string; seconds: number }> = await this.ds.query(
      `SELECT spec->>'runId' AS run_id,
              sum(extract(epoch FROM (coalesce(ended_at, $2) - coalesce(started_at, created_at))))::float AS seconds
         FROM broker.leases WHERE agent_id = $1 GROUP BY 1`,
      [agentId, now],
    );
    return new Map(rows.map((r) => [r.run_id, Math.max(0, Number(r.seconds))]));
  }
}
