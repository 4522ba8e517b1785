import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Broker processes renting instances say they are alive here, so replicas tell each other's instances from orphans. */
export class BrokerProcesses1763900000005 implements MigrationInterface {
  name = 'BrokerProcesses1763900000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE broker.processes (
        boot_id text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE broker.processes`);
  }
}
