import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The checkpoints a job made before its latest, newest first: a retry falls back to them when the latest is corrupt. */
export class EarlierCheckpoints1765300000000 implements MigrationInterface {
  name = 'EarlierCheckpoints1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs ADD COLUMN earlier_checkpoints jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs DROP COLUMN earlier_checkpoints`);
  }
}
