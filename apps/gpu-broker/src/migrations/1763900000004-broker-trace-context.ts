import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A queued attempt keeps its run's trace, so a placement made later, from a timer or a heartbeat, joins that trace. */
export class BrokerTraceContext1763900000004 implements MigrationInterface {
  name = 'BrokerTraceContext1763900000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE broker.lease_requests ADD COLUMN trace_context jsonb`);
    await q.query(`ALTER TABLE broker.leases ADD COLUMN trace_context jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE broker.leases DROP COLUMN trace_context`);
    await q.query(`ALTER TABLE broker.lease_requests DROP COLUMN trace_context`);
  }
}
