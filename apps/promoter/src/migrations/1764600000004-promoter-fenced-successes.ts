import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A success the scheduler does not count (its attempt was fenced off: lost, timed out, retried) is
 * kept in ignored_successes too, with why and without a winner, since none may be registered yet.
 */
export class PromoterFencedSuccesses1764600000004 implements MigrationInterface {
  name = 'PromoterFencedSuccesses1764600000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.ignored_successes ALTER COLUMN winner_version_id DROP NOT NULL`);
    await q.query(`ALTER TABLE promoter.ignored_successes ALTER COLUMN winner_attempt DROP NOT NULL`);
    await q.query(`ALTER TABLE promoter.ignored_successes ADD COLUMN reason text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM promoter.ignored_successes WHERE winner_version_id IS NULL`);
    await q.query(`ALTER TABLE promoter.ignored_successes DROP COLUMN reason`);
    await q.query(`ALTER TABLE promoter.ignored_successes ALTER COLUMN winner_attempt SET NOT NULL`);
    await q.query(`ALTER TABLE promoter.ignored_successes ALTER COLUMN winner_version_id SET NOT NULL`);
  }
}
