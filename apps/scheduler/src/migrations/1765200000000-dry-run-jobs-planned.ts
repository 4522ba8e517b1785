import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A dry run's jobs were stored `pending` and counted as waiting forever; they are `planned`, which never moves. */
export class DryRunJobsPlanned1765200000000 implements MigrationInterface {
  name = 'DryRunJobsPlanned1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE scheduler.jobs j SET status = 'planned' FROM scheduler.runs r WHERE r.id = j.run_id AND r.status = 'planned' AND j.status = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE scheduler.jobs SET status = 'pending' WHERE status = 'planned'`);
  }
}
