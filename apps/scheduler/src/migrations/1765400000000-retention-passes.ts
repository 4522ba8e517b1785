import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row per day's retention pass: inserting it claims the day (replicas run it once), and it keeps
 * what the pass freed. Indexes for retention's selections by age.
 */
export class RetentionPasses1765400000000 implements MigrationInterface {
  name = 'RetentionPasses1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler.retention_passes (
        day text PRIMARY KEY,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        report jsonb
      )`);
    await q.query(`CREATE INDEX jobs_status_finished_at ON scheduler.jobs (status, finished_at)`);
    await q.query(`CREATE INDEX attempts_artifacts_prefix ON scheduler.attempts (artifacts_prefix)`);
    await q.query(`CREATE INDEX ledger_job_id ON scheduler.ledger (job_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX scheduler.ledger_job_id`);
    await q.query(`DROP INDEX scheduler.attempts_artifacts_prefix`);
    await q.query(`DROP INDEX scheduler.jobs_status_finished_at`);
    await q.query(`DROP TABLE scheduler.retention_passes`);
  }
}
