import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ProgressLogsAndTraces1763990000001 implements MigrationInterface {
  name = 'ProgressLogsAndTraces1763990000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs ADD COLUMN progress jsonb`);
    await q.query(`ALTER TABLE scheduler.attempts ADD COLUMN artifacts_prefix text`);
    await q.query(`ALTER TABLE scheduler.runs ADD COLUMN trace_context jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.runs DROP COLUMN trace_context`);
    await q.query(`ALTER TABLE scheduler.attempts DROP COLUMN artifacts_prefix`);
    await q.query(`ALTER TABLE scheduler.jobs DROP COLUMN progress`);
  }
}
