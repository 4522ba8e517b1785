import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ModelDigest1764100000005 implements MigrationInterface {
  name = 'ModelDigest1764100000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notifier.digest_lines (
        id serial PRIMARY KEY,
        dedupe_key text NOT NULL UNIQUE,
        line text NOT NULL,
        created_at timestamptz NOT NULL,
        sent_at timestamptz
      )`);
    await q.query(`CREATE INDEX digest_lines_unsent ON notifier.digest_lines (id) WHERE sent_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notifier.digest_lines`);
  }
}
