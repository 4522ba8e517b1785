import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Experiment tracking: every attempt is a tracked run. The attempt row gains what its agent reported
 * (the trainer's code version, final metrics, artifacts) and whether its model reached production;
 * the metric series from the streamed progress is kept per (attempt, metric, step), so a redelivered
 * progress message stores nothing twice; `seq` orders points as they were stored. `mlflow_sync`
 * records how far each run was mirrored to an MLflow tracking server: the mirror's cursor
 * (`metrics_sent`) and the newest point it saw (`last_seq`), so a late point is sent too.
 */
export class Tracking1764800000000 implements MigrationInterface {
  name = 'Tracking1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE scheduler.attempts
        ADD COLUMN code_version text,
        ADD COLUMN metrics jsonb,
        ADD COLUMN artifacts jsonb,
        ADD COLUMN in_production boolean NOT NULL DEFAULT false,
        ADD COLUMN log_deleted_at timestamptz,
        ADD COLUMN purged_at timestamptz`);
    await q.query(`CREATE INDEX attempts_finished_at ON scheduler.attempts (finished_at)`);
    await q.query(`
      CREATE TABLE scheduler.metric_points (
        seq bigserial UNIQUE,
        job_id text NOT NULL,
        attempt int NOT NULL,
        key text NOT NULL,
        step int NOT NULL,
        value double precision NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (job_id, attempt, key, step)
      )`);
    await q.query(`
      CREATE TABLE scheduler.mlflow_sync (
        job_id text NOT NULL,
        attempt int NOT NULL,
        mlflow_run_id text,
        metrics_sent int NOT NULL DEFAULT 0,
        last_seq bigint NOT NULL DEFAULT 0,
        finished boolean NOT NULL DEFAULT false,
        last_error text,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (job_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler.mlflow_sync`);
    await q.query(`DROP TABLE scheduler.metric_points`);
    await q.query(`DROP INDEX scheduler.attempts_finished_at`);
    await q.query(`ALTER TABLE scheduler.attempts DROP COLUMN code_version, DROP COLUMN metrics, DROP COLUMN artifacts, DROP COLUMN in_production, DROP COLUMN log_deleted_at, DROP COLUMN purged_at`);
  }
}
