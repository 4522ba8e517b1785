import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the GPU provider billed, from instance.destroyed: one row per instance (its whole cost, used
 * or not) and one per run it is attributed to. Keyed by the instance's label, so a redelivered or
 * republished message counts once.
 */
export class RunSpend1764300000000 implements MigrationInterface {
  name = 'RunSpend1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler.instance_spend (
        label text PRIMARY KEY,
        instance_id bigint NOT NULL,
        reason text NOT NULL,
        seconds double precision NOT NULL,
        cost double precision NOT NULL,
        compute double precision NOT NULL,
        storage double precision NOT NULL,
        message_id text NOT NULL,
        destroyed_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX instance_spend_destroyed_at ON scheduler.instance_spend (destroyed_at)`);
    await q.query(`
      CREATE TABLE scheduler.run_spend (
        label text NOT NULL,
        run_id text NOT NULL,
        cost double precision NOT NULL,
        destroyed_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (label, run_id)
      )`);
    await q.query(`CREATE INDEX run_spend_run_id ON scheduler.run_spend (run_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler.run_spend`);
    await q.query(`DROP TABLE scheduler.instance_spend`);
  }
}
