import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { InstanceEntity, LIVE_INSTANCE, type InstanceStatus } from './instance.entity';

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

  async update(id: string, fields: Partial<InstanceEntity>): Promise<void> {
    await this.repo().update({ id }, fields);
  }

  get(id: string): Promise<InstanceEntity | null> {
    return this.repo().findOneBy({ id });
  }

  live(em?: EntityManager): Promise<InstanceEntity[]> {
    return this.repo(em).find({ where: { status: In(LIVE_INSTANCE) }, order: { createdAt: 'ASC' } });
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
    const rows = await this.repo().find({ where: { status: In(LIVE_INSTANCE.filter((s) => s !== 'destroying')) } });
    return rows.filter((r) => !alive.has(r.bootId));
  }

  /** Rows whose lifetime overlaps [since, now): what was spent in that window, at each row's latest price (an accepted increase errs high). */
  async spentSince(since: Date, now: Date): Promise<number> {
    const rows = await this.repo()
      .createQueryBuilder('i')
      .where('i.destroyed_at IS NULL OR i.destroyed_at > :since', { since })
      .andWhere('i.vast_id IS NOT NULL')
      .getMany();
    return rows.reduce((sum, r) => {
      const from = Math.max(r.createdAt.getTime(), since.getTime());
      const to = (r.destroyedAt ?? now).getTime();
      return sum + (Math.max(0, to - from) / 3_600_000) * r.pricePerHour;
    }, 0);
  }
}
