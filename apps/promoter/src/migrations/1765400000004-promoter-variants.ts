import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Regime specialists: a model version belongs to a symbol and a variant (`default` for the plain
 * model, `bull`, `bear`, `sideways`), numbered, promoted and kept per (symbol, variant). Every row
 * written before is the plain model's, so the column's default leaves them as they were.
 */
export class PromoterVariants1765400000004 implements MigrationInterface {
  name = 'PromoterVariants1765400000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.model_versions ADD COLUMN variant text NOT NULL DEFAULT 'default' CHECK (variant IN ('default', 'bull', 'bear', 'sideways'))`);
    await q.query(`ALTER TABLE promoter.model_versions DROP CONSTRAINT model_versions_symbol_version_key`);
    await q.query(`ALTER TABLE promoter.model_versions ADD CONSTRAINT model_versions_key_version_key UNIQUE (symbol, variant, version)`);
    await q.query(`DROP INDEX promoter.model_versions_one_production`);
    await q.query(`CREATE UNIQUE INDEX model_versions_one_production ON promoter.model_versions (symbol, variant) WHERE stage = 'production'`);
    await q.query(`ALTER TABLE promoter.decisions ADD COLUMN variant text NOT NULL DEFAULT 'default'`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The plain models' registry had no room for specialists: theirs go with the column.
    await q.query(`DELETE FROM promoter.ignored_successes WHERE winner_version_id IN (SELECT id FROM promoter.model_versions WHERE variant <> 'default')`);
    await q.query(`DELETE FROM promoter.decisions WHERE variant <> 'default'`);
    await q.query(`DELETE FROM promoter.model_versions WHERE variant <> 'default'`);
    await q.query(`ALTER TABLE promoter.decisions DROP COLUMN variant`);
    await q.query(`DROP INDEX promoter.model_versions_one_production`);
    await q.query(`CREATE UNIQUE INDEX model_versions_one_production ON promoter.model_versions (symbol) WHERE stage = 'production'`);
    await q.query(`ALTER TABLE promoter.model_versions DROP CONSTRAINT model_versions_key_version_key`);
    await q.query(`ALTER TABLE promoter.model_versions ADD CONSTRAINT model_versions_symbol_version_key UNIQUE (symbol, version)`);
    await q.query(`ALTER TABLE promoter.model_versions DROP COLUMN variant`);
  }
}
