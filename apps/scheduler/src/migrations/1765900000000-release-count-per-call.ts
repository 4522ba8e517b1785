import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ReleaseInOneCall1765800000000 } from './1765800000000-release-in-one-call';

/**
 * scheduler.release_waiting counts the run's active jobs with a statement planned for each call. As
 * part of the release's one statement, the count had a plan made once for any `p_active`, which
 * cannot use the open jobs' index: it read every job of the run, about 1 ms a release at 1,000 jobs
 * and growing with the run (auto_explain in the stack bench). Planned for the states it is given, it
 * reads the run's active jobs only.
 */
export class ReleaseCountPerCall1765900000000 implements MigrationInterface {
  name = 'ReleaseCountPerCall1765900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION scheduler.release_waiting(p_run text, p_now timestamptz, p_active text[])
      RETURNS TABLE (released_job scheduler.jobs, run_trace jsonb)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_status text;
        v_max int;
        v_trace jsonb;
        v_slots int;
      BEGIN
        SELECT r.status, r.max_concurrent, r.trace_context INTO v_status, v_max, v_trace FROM scheduler.runs r WHERE r.id = p_run FOR UPDATE;
        IF NOT FOUND OR v_status <> 'running' THEN
          RETURN;
        END IF;
        -- Planned for this call's states (a dynamic statement is): a plan kept for any states counted
        -- through every job of the run.
        EXECUTE 'SELECT greatest(0, $3 - count(*))::int FROM scheduler.jobs WHERE run_id = $1 AND status = ANY($2)'
          INTO v_slots USING p_run, p_active, v_max;
        RETURN QUERY
          WITH slots AS (SELECT v_slots AS n),
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
    // The function as the earlier migration made it.
    await q.query(`DROP FUNCTION scheduler.release_waiting(text, timestamptz, text[])`);
    await new ReleaseInOneCall1765800000000().up(q);
  }
}
