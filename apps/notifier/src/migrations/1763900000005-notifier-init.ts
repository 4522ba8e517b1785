import type { MigrationInterface, QueryRunner } from 'typeorm';

export class NotifierInit1763900000005 implements MigrationInterface {
  name = 'NotifierInit1763900000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notifier.messages (
        id serial PRIMARY KEY,
        kind text NOT NULL,
        dedupe_key text NOT NULL,
        text text NOT NULL,
        sent_at timestamptz NOT NULL,
        CONSTRAINT messages_dedupe_key UNIQUE (dedupe_key)
      )`);
    await q.query(`CREATE INDEX messages_sent_at ON notifier.messages (sent_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE notifier.messages`);
  }
}
