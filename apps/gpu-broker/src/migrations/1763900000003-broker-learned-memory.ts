import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BrokerLearnedMemory1763900000003 implements MigrationInterface {
  name = 'BrokerLearnedMemory1763900000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE broker.learned_gpu_memory (
        symbol text PRIMARY KEY,
        peak_gb double precision NOT NULL,
        samples int NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE broker.learned_gpu_memory`);
  }
}
