import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hyperparameter studies: a study's configuration and its trials, each trial a job of the study's
 * run (purpose search, priority low). Everything a sampler or pruner decides from is here or in the
 * jobs and metric points, so any replica, after any restart, decides the same.
 */
export class Studies1764900000000 implements MigrationInterface {
  name = 'Studies1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler.studies (
        id text PRIMARY KEY,
        symbol text NOT NULL,
        status text NOT NULL,
        config jsonb NOT NULL,
        request jsonb NOT NULL,
        template jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        completed_at timestamptz
      )`);
    await q.query(`
      CREATE TABLE scheduler.study_trials (
        study_id text NOT NULL REFERENCES scheduler.studies (id),
        number int NOT NULL,
        job_id text NOT NULL UNIQUE,
        params jsonb NOT NULL,
        state text NOT NULL,
        value double precision,
        pruned_step int,
        reason text,
        created_at timestamptz NOT NULL,
        finished_at timestamptz,
        PRIMARY KEY (study_id, number)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler.study_trials`);
    await q.query(`DROP TABLE scheduler.studies`);
  }
}
