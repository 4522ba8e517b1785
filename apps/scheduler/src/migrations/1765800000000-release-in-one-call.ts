import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A release as one call (JobRepository.claimReleasable): the run's row locked, then, in a statement
 * of its own and so on a snapshot taken after the lock, the active jobs counted and the free slots'
 * worth of waiting jobs released, highest priority and longest expected first (compareRelease in
 * release-order.ts), with their attempts recorded. It was four round trips (BEGIN, the lock, the
 * release, COMMIT), made about once per job that ends. `p_active` is ACTIVE_JOB_STATES, passed by
 * the caller so that the states stay defined in one place.
 */
export class ReleaseInOneCall1765800000000 implements MigrationInterface {
  name = 'ReleaseInOneCall1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION scheduler.release_waiting(p_run text, p_now timestamptz, p_active text[])
      RETURNS TABLE (released_job scheduler.jobs, run_trace jsonb)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_status text;
        v_max int;
        v_trace jsonb;
      BEGIN
        SELECT r.status, r.max_concurrent, r.trace_context INTO v_status, v_max, v_trace FROM scheduler.runs r WHERE r.id = p_run FOR UPDATE;
        IF NOT FOUND OR v_status <> 'running' THEN
          RETURN;
        END IF;
        RETURN QUERY
          WITH slots AS (
            SELECT greatest(0, v_max - count(*))::int AS n FROM scheduler.jobs WHERE run_id = p_run AND status = ANY(p_active)),
          pending AS (
            SELECT id, priority_rank, expected_seconds, symbol FROM scheduler.jobs WHERE run_id = p_run AND status = 'pending'
             ORDER BY priority_rank, expected_seconds DESC, symbol LIMIT (SELECT n FROM slots) FOR UPDATE),
          due AS (
            SELECT id, priority_rank, expected_seconds, symbol FROM scheduler.jobs WHERE run_id = p_run AND status = 'retry_wait' AND next_attempt_at <= p_now
             ORDER BY priority_rank, expected_seconds DESC, symbol LIMIT (SELECT n FROM slots) FOR UPDATE),
          chosen AS (
            SELECT c.id FROM (SELECT * FROM pending UNION ALL SELECT * FROM due) c
             ORDER BY c.priority_rank, c.expected_seconds DESC, c.symbol COLLATE "C" LIMIT (SELECT n FROM slots)),
          released AS (
            UPDATE scheduler.jobs j SET status = 'released', attempt = CASE WHEN j.status = 'retry_wait' THEN j.attempt + 1 ELSE j.attempt END,
                   released_at = p_now, started_at = NULL, lease_id = NULL, agent_id = NULL, next_attempt_at = NULL, updated_at = now()
              FROM chosen WHERE j.id = chosen.id AND j.status IN ('pending', 'retry_wait')
            RETURNING j.*),
          attempts AS (
            INSERT INTO scheduler.attempts (job_id, attempt, status, requested_at) SELECT r.id, r.attempt, 'requested', p_now FROM released r ON CONFLICT DO NOTHING)
          SELECT r::scheduler.jobs, v_trace FROM released r;
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION scheduler.release_waiting(text, timestamptz, text[])`);
  }
}
