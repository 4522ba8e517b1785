import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BrokerInstances1763900000002 implements MigrationInterface {
  name = 'BrokerInstances1763900000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE broker.instances (
        id text PRIMARY KEY,
        label text NOT NULL UNIQUE,
        boot_id text NOT NULL,
        vast_id bigint UNIQUE,
        offer_id bigint NOT NULL,
        status text NOT NULL,
        gpu_name text NOT NULL,
        num_gpus int NOT NULL,
        gpu_memory_gb double precision NOT NULL,
        price_per_hour double precision NOT NULL,
        interruptible boolean NOT NULL,
        agent_id text,
        ssh_host text,
        ssh_port int,
        host_key text,
        created_at timestamptz NOT NULL,
        ready_at timestamptz,
        last_busy_at timestamptz,
        destroyed_at timestamptz,
        destroy_reason text,
        detail text
      )`);
    await q.query(`CREATE INDEX instances_live ON broker.instances (status) WHERE status <> 'destroyed'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE broker.instances`);
  }
}
