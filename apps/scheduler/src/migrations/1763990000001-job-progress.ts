import type { MigrationInterface, QueryRunner } from 'typeorm';

export class JobProgress1763990000001 implements MigrationInterface {
  name = 'JobProgress1763990000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs ADD COLUMN progress jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs DROP COLUMN progress`);
  }
}
