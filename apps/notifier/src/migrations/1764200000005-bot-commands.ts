import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BotCommands1764200000005 implements MigrationInterface {
  name = 'BotCommands1764200000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notifier.bot_commands (
        id text PRIMARY KEY,
        command text NOT NULL,
        subject text,
        chat_id text NOT NULL,
        reply_to integer NOT NULL,
        requested_by text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX bot_commands_subject ON notifier.bot_commands (command, subject) WHERE subject IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notifier.bot_commands`);
  }
}
