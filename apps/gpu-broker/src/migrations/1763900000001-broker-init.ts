import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BrokerInit1763900000001 implements MigrationInterface {
  name = 'BrokerInit1763900000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE broker.agents (
        id text PRIMARY KEY,
        host text NOT NULL,
        provider text NOT NULL,
        gpus jsonb NOT NULL,
        cpu_slots int NOT NULL,
        status text NOT NULL,
        started_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE broker.lease_requests (
        job_id text NOT NULL,
        attempt int NOT NULL,
        priority_rank int NOT NULL,
        spec jsonb NOT NULL,
        status text NOT NULL,
        requested_at timestamptz NOT NULL,
        PRIMARY KEY (job_id, attempt)
      )`);
    await q.query(`CREATE INDEX lease_requests_pending ON broker.lease_requests (priority_rank, requested_at) WHERE status = 'pending'`);
    await q.query(`
      CREATE TABLE broker.leases (
        id text PRIMARY KEY,
        job_id text NOT NULL,
        attempt int NOT NULL,
        agent_id text NOT NULL,
        provider text NOT NULL,
        device text NOT NULL,
        gpu_memory_gb double precision NOT NULL,
        price_per_hour double precision NOT NULL,
        status text NOT NULL,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        ends_by timestamptz NOT NULL,
        started_at timestamptz,
        ended_at timestamptz,
        end_reason text,
        UNIQUE (job_id, attempt)
      )`);
    await q.query(`CREATE INDEX leases_agent_status ON broker.leases (agent_id, status)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE broker.leases`);
    await q.query(`DROP TABLE broker.lease_requests`);
    await q.query(`DROP TABLE broker.agents`);
  }
}
