import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SchedulerInit1763900000000 implements MigrationInterface {
  name = 'SchedulerInit1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE scheduler.runs (
        id text PRIMARY KEY,
        date text NOT NULL,
        trigger text NOT NULL,
        status text NOT NULL,
        mode text NOT NULL,
        max_concurrent int NOT NULL,
        priority text NOT NULL,
        request jsonb NOT NULL,
        total_jobs int NOT NULL,
        skipped jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz,
        completion_published boolean NOT NULL DEFAULT false,
        summary jsonb,
        summary_uri text
      )`);
    await q.query(`
      CREATE TABLE scheduler.jobs (
        id text PRIMARY KEY,
        run_id text NOT NULL REFERENCES scheduler.runs(id),
        symbol text NOT NULL,
        status text NOT NULL,
        attempt int NOT NULL,
        max_attempts int NOT NULL,
        priority_rank int NOT NULL,
        expected_seconds double precision NOT NULL,
        definition jsonb NOT NULL,
        spec_hash text NOT NULL,
        lease_id text,
        agent_id text,
        price_per_hour double precision NOT NULL DEFAULT 0,
        released_at timestamptz,
        started_at timestamptz,
        finished_at timestamptz,
        next_attempt_at timestamptz,
        train_seconds double precision,
        metrics jsonb,
        artifacts_prefix text,
        error_type text,
        error_message text,
        checkpoint jsonb,
        cost double precision NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX jobs_run_status ON scheduler.jobs (run_id, status)`);
    await q.query(`CREATE INDEX jobs_symbol_status ON scheduler.jobs (symbol, status)`);
    await q.query(`
      CREATE TABLE scheduler.attempts (
        job_id text NOT NULL REFERENCES scheduler.jobs(id),
        attempt int NOT NULL,
        status text NOT NULL,
        agent_id text,
        lease_id text,
        requested_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        error_type text,
        message text,
        stack_summary text,
        PRIMARY KEY (job_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE scheduler.attempts`);
    await q.query(`DROP TABLE scheduler.jobs`);
    await q.query(`DROP TABLE scheduler.runs`);
  }
}
