import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ResumeLedger1763990000000 implements MigrationInterface {
  name = 'ResumeLedger1763990000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler.ledger (
        date text NOT NULL,
        symbol text NOT NULL,
        training_hash text NOT NULL,
        outcome text NOT NULL,
        job_id text NOT NULL,
        attempt int NOT NULL,
        artifacts_prefix text,
        checkpoint jsonb,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (date, symbol, training_hash)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler.ledger`);
  }
}
