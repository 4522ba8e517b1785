import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A manual promotion or rollback keeps the id of the operator's command (or of the API request's
 * Idempotency-Key) that made it, so a repeat of that command answers with what it did rather than
 * switching production again.
 */
export class PromoterDecisionCommands1764700000004 implements MigrationInterface {
  name = 'PromoterDecisionCommands1764700000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE promoter.decisions ADD COLUMN command_id text`);
    await q.query(`CREATE UNIQUE INDEX decisions_command_id ON promoter.decisions (command_id) WHERE command_id IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX promoter.decisions_command_id`);
    await q.query(`ALTER TABLE promoter.decisions DROP COLUMN command_id`);
  }
}
