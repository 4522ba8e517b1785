import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Instances follow the contracts' state machine (`provisioning` is now `booting`), and keep what
 * they cost as the bill counts it: storage from create, compute while running, settled at each
 * price change; `run_id` is the run whose waiting job made the broker rent it.
 */
export class BrokerInstanceSpend1763900000006 implements MigrationInterface {
  name = 'BrokerInstanceSpend1763900000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE broker.instances SET status = 'booting' WHERE status = 'provisioning'`);
    await q.query(`
      ALTER TABLE broker.instances
        ADD COLUMN run_id text,
        ADD COLUMN version int NOT NULL DEFAULT 0,
        ADD COLUMN storage_per_hour double precision NOT NULL DEFAULT 0,
        ADD COLUMN compute_spent double precision NOT NULL DEFAULT 0,
        ADD COLUMN running_since timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE broker.instances DROP COLUMN run_id, DROP COLUMN version, DROP COLUMN storage_per_hour, DROP COLUMN compute_spent, DROP COLUMN running_since`);
    await q.query(`UPDATE broker.instances SET status = 'provisioning' WHERE status = 'booting'`);
  }
}
