import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A lease's end (lost or released) is committed before it is announced on the bus; the flag says
 * whether the announcement got through, so a failed publish is retried rather than forgotten.
 */
export class BrokerLeaseOutcomes1763900000007 implements MigrationInterface {
  name = 'BrokerLeaseOutcomes1763900000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE broker.leases ADD COLUMN outcome_published boolean NOT NULL DEFAULT true`);
    await q.query(`CREATE INDEX leases_unpublished_outcome ON broker.leases (ended_at) WHERE NOT outcome_published`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX broker.leases_unpublished_outcome`);
    await q.query(`ALTER TABLE broker.leases DROP COLUMN outcome_published`);
  }
}
