import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A version can be put back into production by hand any number of times, so only its automatic
 * decision stays unique; retention records when it deleted a version's artifacts.
 */
export class PromoterManualDecisionsRetention1764000000004 implements MigrationInterface {
  name = 'PromoterManualDecisionsRetention1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.decisions DROP CONSTRAINT decisions_version_key`);
    await q.query(`CREATE UNIQUE INDEX decisions_one_automatic ON promoter.decisions (version_id) WHERE rule NOT IN ('manual_rollback', 'manual_promote')`);
    await q.query(`CREATE INDEX decisions_version ON promoter.decisions (version_id)`);
    await q.query(`ALTER TABLE promoter.model_versions ADD COLUMN pruned_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.model_versions DROP COLUMN pruned_at`);
    await q.query(`DROP INDEX promoter.decisions_version`);
    await q.query(`DROP INDEX promoter.decisions_one_automatic`);
    await q.query(`DELETE FROM promoter.decisions WHERE rule IN ('manual_rollback', 'manual_promote')`);
    await q.query(`ALTER TABLE promoter.decisions ADD CONSTRAINT decisions_version_key UNIQUE (version_id)`);
  }
}
