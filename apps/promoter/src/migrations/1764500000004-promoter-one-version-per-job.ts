import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * At most one model version per job (fencing of attempts): the first attempt of a job to succeed is
 * registered, a later success of another attempt only goes on record in ignored_successes. Versions
 * registered twice for one job before this rule keep their rows (decisions point at them), marked
 * as such and left out of the unique index.
 */
export class PromoterOneVersionPerJob1764500000004 implements MigrationInterface {
  name = 'PromoterOneVersionPerJob1764500000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.model_versions ADD COLUMN pre_fencing_duplicate boolean NOT NULL DEFAULT false`);
    await q.query(`
      UPDATE promoter.model_versions v SET pre_fencing_duplicate = true
      WHERE EXISTS (SELECT 1 FROM promoter.model_versions e WHERE e.job_id = v.job_id AND e.id < v.id)`);
    await q.query(`CREATE UNIQUE INDEX model_versions_one_per_job ON promoter.model_versions (job_id) WHERE NOT pre_fencing_duplicate`);
    await q.query(`
      CREATE TABLE promoter.ignored_successes (
        id serial PRIMARY KEY,
        job_id text NOT NULL,
        attempt int NOT NULL,
        symbol text NOT NULL,
        run_id text NOT NULL,
        lease_id text,
        artifacts_prefix text NOT NULL,
        metrics jsonb NOT NULL,
        winner_version_id int NOT NULL REFERENCES promoter.model_versions(id),
        winner_attempt int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ignored_successes_job_attempt_key UNIQUE (job_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE promoter.ignored_successes`);
    await q.query(`DROP INDEX promoter.model_versions_one_per_job`);
    await q.query(`ALTER TABLE promoter.model_versions DROP COLUMN pre_fencing_duplicate`);
  }
}
