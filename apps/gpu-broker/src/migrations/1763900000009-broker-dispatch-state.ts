import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a placement pass reads, in one call (BrokerStore.dispatchState): with `p_lock`, the dispatch
 * lock replicas take turns through first, then, in a statement of its own and so on a snapshot taken
 * after the lock, the alive agents in id order with what their active leases hold per device, and
 * the waiting requests in placement order with their symbols' learned memory. It was three round
 * trips (the lock, the agents, the requests) in each pass's transaction, about one pass for every
 * two or three jobs.
 */
export class BrokerDispatchState1763900000009 implements MigrationInterface {
  name = 'BrokerDispatchState1763900000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION broker.dispatch_state(p_lock boolean)
      RETURNS TABLE (agents json, pending json)
      LANGUAGE plpgsql VOLATILE AS $fn$
      BEGIN
        IF p_lock THEN
          PERFORM pg_advisory_xact_lock(hashtext('trainyard.broker.dispatch'));
        END IF;
        RETURN QUERY SELECT
          (SELECT coalesce(json_agg(json_build_object('id', a.id, 'provider', a.provider, 'gpus', a.gpus, 'cpuSlots', a.cpu_slots, 'held', coalesce(h.held, '[]'::json)) ORDER BY a.id), '[]'::json)
             FROM broker.agents a
             LEFT JOIN LATERAL (
               SELECT json_agg(json_build_object('device', d.device, 'jobs', d.jobs, 'gb', d.gb)) AS held
                 FROM (SELECT device, count(*)::int AS jobs, coalesce(sum(gpu_memory_gb), 0)::float AS gb
                         FROM broker.leases WHERE agent_id = a.id AND status IN ('assigned', 'running') GROUP BY device) d
             ) h ON true
            WHERE a.status = 'alive'),
          (SELECT coalesce(json_agg(json_build_object('jobId', r.job_id, 'attempt', r.attempt, 'symbol', r.spec->>'symbol',
                                                      'gpuMemoryGb', (r.spec->'resources'->>'gpuMemoryGb')::float, 'learnedGb', m.peak_gb::float)
                                    ORDER BY r.priority_rank, r.requested_at, r.job_id), '[]'::json)
             FROM broker.lease_requests r LEFT JOIN broker.learned_gpu_memory m ON m.symbol = r.spec->>'symbol'
            WHERE r.status = 'pending');
      END
      $fn$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION broker.dispatch_state(boolean)`);
  }
}
