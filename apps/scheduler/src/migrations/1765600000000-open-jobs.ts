import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every job event asks whether its run has open jobs and how many are active; jobs_open holds open
 * jobs only, so neither reads the run's finished ones. A release reads the next waiting jobs in
 * release order (compareRelease) along jobs_release_order.
 */
export class OpenJobs1765600000000 implements MigrationInterface {
  name = 'OpenJobs1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX jobs_open ON scheduler.jobs (run_id, status) WHERE status IN ('pending', 'released', 'leased', 'running', 'retry_wait')`);
    await q.query(`CREATE INDEX jobs_release_order ON scheduler.jobs (run_id, priority_rank, expected_seconds DESC, symbol) WHERE status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX scheduler.jobs_release_order`);
    await q.query(`DROP INDEX scheduler.jobs_open`);
  }
}
