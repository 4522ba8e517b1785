import type { MigrationInterface, QueryRunner } from 'typeorm';
import { trainingHash, type JobDefinition } from '@trainyard/contracts';

const BATCH = 1000;

/**
 * Each job keeps the training hash of its definition, so that a success is recorded in the ledger
 * by the same statement that records it on the job, without a transaction around two. Jobs stored
 * before are hashed here, as the ledger hashed them.
 */
export class JobTrainingHash1765700000000 implements MigrationInterface {
  name = 'JobTrainingHash1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs ADD COLUMN training_hash text`);
    for (let after = ''; ;) {
      const rows: { id: string; definition: JobDefinition }[] = await q.query(`SELECT id, definition FROM scheduler.jobs WHERE id > $1 ORDER BY id LIMIT ${BATCH}`, [after]);
      if (rows.length === 0) break;
      await q.query(`UPDATE scheduler.jobs j SET training_hash = h.hash FROM unnest($1::text[], $2::text[]) AS h(id, hash) WHERE j.id = h.id`, [
        rows.map((r) => r.id),
        rows.map((r) => trainingHash(r.definition)),
      ]);
      after = rows[rows.length - 1]!.id;
    }
    await q.query(`ALTER TABLE scheduler.jobs ALTER COLUMN training_hash SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE scheduler.jobs DROP COLUMN training_hash`);
  }
}
