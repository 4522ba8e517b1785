import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A placement pass sums what the active leases hold per agent and device; leases are kept after they
 * end, so without this it would read every lease ever granted.
 */
export class BrokerActiveLeases1763900000008 implements MigrationInterface {
  name = 'BrokerActiveLeases1763900000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX leases_active ON broker.leases (agent_id, device) INCLUDE (gpu_memory_gb) WHERE status IN ('assigned', 'running')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX broker.leases_active`);
  }
}
