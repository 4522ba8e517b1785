import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PromoterInit1763900000004 implements MigrationInterface {
  name = 'PromoterInit1763900000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE promoter.model_versions (
        id serial PRIMARY KEY,
        symbol text NOT NULL,
        version int NOT NULL,
        run_id text NOT NULL,
        job_id text NOT NULL,
        attempt int NOT NULL,
        promote text NOT NULL,
        canary boolean NOT NULL,
        artifacts_prefix text NOT NULL,
        artifacts jsonb NOT NULL,
        metrics jsonb NOT NULL,
        featureset text NOT NULL,
        costs jsonb NOT NULL,
        evaluation_window jsonb NOT NULL,
        stage text NOT NULL DEFAULT 'candidate' CHECK (stage IN ('candidate', 'production', 'archived')),
        created_at timestamptz NOT NULL DEFAULT now(),
        promoted_at timestamptz,
        CONSTRAINT model_versions_symbol_version_key UNIQUE (symbol, version),
        CONSTRAINT model_versions_job_attempt_key UNIQUE (job_id, attempt)
      )`);
    // At most one production version per symbol, whatever the code above it does.
    await q.query(`CREATE UNIQUE INDEX model_versions_one_production ON promoter.model_versions (symbol) WHERE stage = 'production'`);
    await q.query(`
      CREATE TABLE promoter.decisions (
        id serial PRIMARY KEY,
        version_id int NOT NULL REFERENCES promoter.model_versions(id),
        symbol text NOT NULL,
        outcome text NOT NULL,
        rule text NOT NULL,
        mode text NOT NULL,
        applied boolean NOT NULL,
        reason text NOT NULL,
        candidate_metrics jsonb NOT NULL,
        production_version int,
        production_metrics jsonb,
        production_uri text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT decisions_version_key UNIQUE (version_id)
      )`);
    await q.query(`CREATE INDEX decisions_symbol_created ON promoter.decisions (symbol, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE promoter.decisions`);
    await q.query(`DROP TABLE promoter.model_versions`);
  }
}
