import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A lease's end (lost or released) and an instance's destruction are committed before they are
 * announced on the bus; the flags say whether the announcement got through, so a failed publish is
 * retried rather than forgotten.
 * `missing_since`: when the lease's agent first left it out of its heartbeat's running list, so a
 * lease whose outcome its agent could not report is taken back instead of held for good. A cancelled
 * request keeps why, so its job.cancelled can be announced again when the request is repeated.
 */
export class BrokerAnnouncedEnds1763900000007 implements MigrationInterface {
  name = 'BrokerAnnouncedEnds1763900000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE broker.leases ADD COLUMN outcome_published boolean NOT NULL DEFAULT true, ADD COLUMN missing_since timestamptz`);
    await q.query(`ALTER TABLE broker.lease_requests ADD COLUMN cancel_reason text`);
    await q.query(`ALTER TABLE broker.instances ADD COLUMN destroyed_published boolean NOT NULL DEFAULT true`);
    await q.query(`CREATE INDEX leases_unpublished_outcome ON broker.leases (ended_at) WHERE NOT outcome_published`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX broker.leases_unpublished_outcome`);
    await q.query(`ALTER TABLE broker.instances DROP COLUMN destroyed_published`);
    await q.query(`ALTER TABLE broker.lease_requests DROP COLUMN cancel_reason`);
    await q.query(`ALTER TABLE broker.leases DROP COLUMN outcome_published, DROP COLUMN missing_since`);
  }
}
