import { Injectable } from '@nestjs/common';
import { DataSource, In, LessThan, type EntityManager } from 'typeorm';
import { entityFromRow } from '@trainyard/persistence';
import { attemptKey, BatchedCalls, inJobOrder } from '@trainyard/runtime';
import { leaseTransitionSources, releaseRank, type EventMessage, type JobSpec, type LeaseStatus, type Provider } from '@trainyard/contracts';
import { AgentEntity } from '../agents/agent.entity';
import { LeaseRequestEntity } from './lease-request.entity';
import { LeaseEntity } from './lease.entity';
import { emptyUsage, type AgentCapacity, type SlotUsage } from './placement';

/** A waiting request as placement sees it. */
export interface PendingRequest {
  jobId: string;
  attempt: number;
  symbol: string;
  gpuMemoryGb: number;
  /** The most the symbol's jobs were seen to use alone on a GPU; null until learned. */
  learnedGb: number | null;
}

/** An alive agent as placement sees it. */
export type PlacementAgent = AgentCapacity & { provider: Provider };

/** What a placement pass reads: the alive agents, what each holds, the waiting requests in placement order. */
export interface DispatchState {
  /** The dispatch epoch this was read at, as PostgreSQL's bigint text. */
  epoch: string;
  agents: PlacementAgent[];
  usage: Map<string, SlotUsage>;
  pending: PendingRequest[];
}

/** A waiting request's place, as a pass decided it. */
export interface Grant {
  jobId: string;
  attempt: number;
  leaseId: string;
  agentId: string;
  provider: Provider;
  device: string;
  gpuMemoryGb: number;
  pricePerHour: number;
}

export const ACTIVE_LEASES: LeaseStatus[] = ['assigned', 'running'];
const ENDED_LEASES: LeaseStatus[] = ['released', 'lost'];

/** How an attempt's lease ended, as its agent reported it. */
export interface LeaseEnd {
  jobId: string;
  attempt: number;
  endedAt: Date;
  endReason: string;
  startedAt?: Date;
}

interface QueuedRequest {
  jobId: string;
  attempt: number;
  spec: JobSpec;
  at: Date;
  traceContext: Record<string, string> | null;
}

/** The broker's tables: agents and their capacity, queued requests, leases. */
@Injectable()
export class BrokerStore {
  private readonly requests = new BatchedCalls<QueuedRequest, boolean>((items) => this.enqueueBatch(items), { key: attemptKey, repeated: false });
  private readonly starts = new BatchedCalls<{ jobId: string; attempt: number; startedAt: Date }, void>((items) => this.markStartedBatch(items), { key: attemptKey, repeated: undefined });
  private readonly ends = new BatchedCalls<LeaseEnd, LeaseEntity | null>((items) => this.releaseBatch(items), { key: attemptKey, repeated: null });

  constructor(private readonly ds: DataSource) {}

  get manager(): EntityManager {
    return this.ds.manager;
  }

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  /**
   * Queues a job attempt once, however often its request is delivered; a repeat returns the request as
   * it stands. The requests arriving meanwhile are queued together, in one statement, so that a burst
   * (a run's first release) is in the table for the next placement pass rather than spread over several.
   */
  async enqueue(spec: JobSpec, at: Date, traceContext: Record<string, string> | null = null): Promise<LeaseRequestEntity | null> {
    if (await this.requests.call({ jobId: spec.jobId, attempt: spec.attempt, spec, at, traceContext })) return null;
    return this.ds.getRepository(LeaseRequestEntity).findOne({ where: { jobId: spec.jobId, attempt: spec.attempt } });
  }

  /** Whether each request was queued by this batch (false: it was there already). */
  private async enqueueBatch(batch: QueuedRequest[]): Promise<boolean[]> {
    const items = inJobOrder(batch);
    // A plain statement, without the query builder building it each time.
    const rows: { job_id: string; attempt: number }[] = await this.ds.query(
      `INSERT INTO broker.lease_requests (job_id, attempt, priority_rank, spec, status, requested_at, trace_context)
       SELECT r.job_id, r.attempt, r.priority_rank, r.spec, 'pending', r.requested_at, r.trace_context
         FROM unnest($1::text[], $2::int[], $3::int[], $4::jsonb[], $5::timestamptz[], $6::jsonb[])
           AS r(job_id, attempt, priority_rank, spec, requested_at, trace_context)
       ON CONFLICT DO NOTHING RETURNING job_id, attempt`,
      [
        items.map((i) => i.jobId),
        items.map((i) => i.attempt),
        items.map((i) => releaseRank(i.spec.priority, i.spec.purpose)),
        items.map((i) => JSON.stringify(i.spec)),
        items.map((i) => i.at),
        items.map((i) => (i.traceContext ? JSON.stringify(i.traceContext) : null)),
      ],
    );
    const queued = new Set(rows.map((r) => attemptKey({ jobId: r.job_id, attempt: r.attempt })));
    return batch.map((i) => queued.has(attemptKey(i)));
  }

  /** Records a heartbeat unless a newer one is already recorded; returns the agent before and after. */
  async recordHeartbeat(hb: EventMessage<'agent.heartbeat'>): Promise<{ before: AgentEntity | null; after: AgentEntity } | null> {
    return this.ds.transaction(async (em) => {
      const repo = em.getRepository(AgentEntity);
      const before = await repo.findOne({ where: { id: hb.agentId }, lock: { mode: 'pessimistic_write' } });
      const seenAt = new Date(hb.occurredAt);
      if (before && before.lastSeenAt >= seenAt) return null;
      const after = repo.create({
        id: hb.agentId,
        host: hb.host,
        provider: hb.provider,
        gpus: hb.gpus,
        cpuSlots: hb.cpuSlots,
        status: 'alive',
        startedAt: new Date(hb.startedAt),
        lastSeenAt: seenAt,
      });
      await repo.save(after);
      return { before: before ? { ...before } : null, after };
    });
  }

  allAgents(): Promise<AgentEntity[]> {
    return this.ds.getRepository(AgentEntity).find({ order: { id: 'ASC' } });
  }

  activeLeases(em: EntityManager = this.ds.manager, agentId?: string): Promise<LeaseEntity[]> {
    return em.getRepository(LeaseEntity).find({ where: { status: In(ACTIVE_LEASES), ...(agentId ? { agentId } : {}) } });
  }

  /** Requests waiting since before `before`, in placement order, with what renting reads of them. */
  waitingSince(before: Date): Promise<Array<{ jobId: string; attempt: number; runId: string; symbol: string; gpuMemoryGb: number }>> {
    return this.ds.query(
      `SELECT job_id AS "jobId", attempt, spec->>'runId' AS "runId", spec->>'symbol' AS symbol, (spec->'resources'->>'gpuMemoryGb')::float AS "gpuMemoryGb"
         FROM broker.lease_requests WHERE status = 'pending' AND requested_at < $1 ORDER BY priority_rank, requested_at, job_id`,
      [before],
    );
  }

  /** Whether any request waits, asked of the partial index lease_requests_pending. */
  async hasPending(): Promise<boolean> {
    const [row]: { waiting: boolean }[] = await this.ds.query(`SELECT EXISTS (SELECT 1 FROM broker.lease_requests WHERE status = 'pending') AS waiting`);
    return row?.waiting ?? true;
  }

  /** Keeps the highest GPU memory seen for a symbol's job running alone on a GPU. */
  async learnMemory(symbol: string, gb: number, at: Date): Promise<void> {
    await this.ds.query(
      `INSERT INTO broker.learned_gpu_memory (symbol, peak_gb, samples, updated_at) VALUES ($1, $2, 1, $3)
       ON CONFLICT (symbol) DO UPDATE SET peak_gb = GREATEST(broker.learned_gpu_memory.peak_gb, EXCLUDED.peak_gb),
         samples = broker.learned_gpu_memory.samples + 1, updated_at = EXCLUDED.updated_at`,
      [symbol, gb, at],
    );
  }

  async learnedMemory(em: EntityManager, symbols: string[]): Promise<Map<string, number>> {
    if (symbols.length === 0) return new Map();
    const rows: Array<{ symbol: string; peak_gb: number }> = await em.query(`SELECT symbol, peak_gb FROM broker.learned_gpu_memory WHERE symbol = ANY($1)`, [symbols]);
    return new Map(rows.map((r) => [r.symbol, Number(r.peak_gb)]));
  }

  /** An agent whose machine is going away takes no more work, whatever its last heartbeat said. */
  async retireAgent(agentId: string): Promise<void> {
    await this.ds.getRepository(AgentEntity).update({ id: agentId }, { status: 'silent' });
  }

  /**
   * What placement reads, in one statement: the alive agents in id order with what their active
   * leases hold (summed in the database, through the index on agent and status), the waiting
   * requests in placement order with only what placement reads of them (not their specs) and their
   * symbols' learned memory, and the dispatch epoch they were read at (see grant).
   */
  async dispatchState(): Promise<DispatchState> {
    const [row]: { epoch: string; agents: Array<PlacementAgent & { held: Array<{ device: string; jobs: number; gb: number }> }>; pending: PendingRequest[] }[] = await this.ds.query(
      `SELECT (SELECT n FROM broker.dispatch_epoch) AS epoch,
         (SELECT coalesce(json_agg(json_build_object('id', a.id, 'provider', a.provider, 'gpus', a.gpus, 'cpuSlots', a.cpu_slots, 'held', coalesce(h.held, '[]'::json)) ORDER BY a.id), '[]'::json)
            FROM broker.agents a
            LEFT JOIN LATERAL (
              SELECT json_agg(json_build_object('device', d.device, 'jobs', d.jobs, 'gb', d.gb)) AS held
                FROM (SELECT device, count(*)::int AS jobs, coalesce(sum(gpu_memory_gb), 0)::float AS gb
                        FROM broker.leases WHERE agent_id = a.id AND status IN ('assigned', 'running') GROUP BY device) d
            ) h ON true
           WHERE a.status = $1) AS agents,
         (SELECT coalesce(json_agg(json_build_object('jobId', r.job_id, 'attempt', r.attempt, 'symbol', r.spec->>'symbol',
                                                     'gpuMemoryGb', (r.spec->'resources'->>'gpuMemoryGb')::float, 'learnedGb', m.peak_gb::float)
                                   ORDER BY r.priority_rank, r.requested_at, r.job_id), '[]'::json)
            FROM broker.lease_requests r LEFT JOIN broker.learned_gpu_memory m ON m.symbol = r.spec->>'symbol'
           WHERE r.status = 'pending') AS pending`,
      // A parameter, so the statement is prepared and its plan kept (a statement without one is planned at every call).
      ['alive'],
    );
    const usage = new Map<string, SlotUsage>();
    const agents = row!.agents.map(({ held, ...agent }) => {
      const u = emptyUsage();
      usage.set(agent.id, u);
      for (const h of held) {
        if (h.device === 'cpu') u.cpuJobs += h.jobs;
        else u.gpus.set(Number(h.device.slice('gpu:'.length)), { jobs: h.jobs, memoryGb: h.gb });
      }
      return agent;
    });
    return { epoch: row!.epoch, agents, usage, pending: row!.pending };
  }

  /**
   * One pass's placements granted in one statement, if the dispatch epoch is still the one its state
   * was read at (it moves on with each grant: capacity is taken only here, so an unchanged epoch
   * means the pass placed on what is still free; replicas of the broker take turns through it). Their
   * requests are marked leased (those still pending: a cancel may have come first) and their leases
   * inserted with the requests' specs and trace contexts copied inside the database, so no spec
   * travels to the broker and back. Returns the leases as inserted, in no particular order, or null
   * when another grant came first and the pass must read again.
   */
  async grant(grants: Grant[], at: Date, epoch: string): Promise<LeaseEntity[] | null> {
    const rows: Record<string, unknown>[] = await this.ds.query(
      `WITH epoch AS (
         UPDATE broker.dispatch_epoch SET n = n + 1 WHERE n = $10::bigint RETURNING n
       ), placed AS (
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[])
           AS p(job_id, attempt, id, agent_id, provider, device, gpu_memory_gb, price_per_hour)
          WHERE EXISTS (SELECT 1 FROM epoch)
       ), leased AS (
         UPDATE broker.lease_requests r SET status = 'leased' FROM placed p
          WHERE r.job_id = p.job_id AND r.attempt = p.attempt AND r.status = 'pending'
          RETURNING r.job_id, r.attempt, r.spec, r.trace_context
       ), inserted AS (
         INSERT INTO broker.leases (id, job_id, attempt, agent_id, provider, device, gpu_memory_gb, price_per_hour, status, spec, created_at, ends_by, trace_context)
         SELECT p.id, p.job_id, p.attempt, p.agent_id, p.provider, p.device, p.gpu_memory_gb, p.price_per_hour, 'assigned', l.spec,
                $9::timestamptz, $9::timestamptz + make_interval(secs => (l.spec->>'timeoutMinutes')::float8 * 60), l.trace_context
           FROM placed p JOIN leased l USING (job_id, attempt)
         RETURNING *)
       SELECT (SELECT n FROM epoch) AS "__epoch", i.* FROM (SELECT) AS one LEFT JOIN inserted i ON true`,
      [
        grants.map((g) => g.jobId),
        grants.map((g) => g.attempt),
        grants.map((g) => g.leaseId),
        grants.map((g) => g.agentId),
        grants.map((g) => g.provider),
        grants.map((g) => g.device),
        grants.map((g) => g.gpuMemoryGb),
        grants.map((g) => g.pricePerHour),
        at,
        epoch,
      ],
    );
    if (rows[0]?.__epoch === null) return null;
    return rows.filter((row) => row.id !== null).map(({ __epoch: _epoch, ...row }) => entityFromRow(this.ds, LeaseEntity, row));
  }

  /** An attempt's lease runs from its start; the starts reported meanwhile are applied together, in one statement. */
  markStarted(jobId: string, attempt: number, startedAt: Date): Promise<void> {
    return this.starts.call({ jobId, attempt, startedAt });
  }

  private async markStartedBatch(batch: { jobId: string; attempt: number; startedAt: Date }[]): Promise<void[]> {
    const items = inJobOrder(batch);
    await this.ds.query(
      `UPDATE broker.leases l SET status = 'running', started_at = r.started_at
         FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS r(job_id, attempt, started_at)
        WHERE l.job_id = r.job_id AND l.attempt = r.attempt AND l.status = ANY($4::text[])`,
      [items.map((i) => i.jobId), items.map((i) => i.attempt), items.map((i) => i.startedAt), leaseTransitionSources('running')],
    );
    return batch.map(() => undefined);
  }

  /**
   * An attempt's lease released at its end, unless it already ended (lost, or released by an earlier
   * delivery): the lease as released, or null. The ends reported meanwhile are applied together, in
   * one statement; `startedAt`, when the agent reported the attempt's own start, replaces the lease's.
   */
  release(end: LeaseEnd): Promise<LeaseEntity | null> {
    return this.ends.call(end);
  }

  private async releaseBatch(batch: LeaseEnd[]): Promise<(LeaseEntity | null)[]> {
    const items = inJobOrder(batch);
    // An UPDATE's answer through TypeORM: its rows and its count.
    const [rows]: [Record<string, unknown>[], number] = await this.ds.query(
      `UPDATE broker.leases l SET status = 'released', outcome_published = false, ended_at = r.ended_at, end_reason = r.end_reason, started_at = coalesce(r.started_at, l.started_at)
         FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::timestamptz[]) AS r(job_id, attempt, ended_at, end_reason, started_at)
        WHERE l.job_id = r.job_id AND l.attempt = r.attempt AND l.status = ANY($6::text[])
        RETURNING l.*`,
      [items.map((i) => i.jobId), items.map((i) => i.attempt), items.map((i) => i.endedAt), items.map((i) => i.endReason), items.map((i) => i.startedAt ?? null), leaseTransitionSources('released')],
    );
    const released = new Map(rows.map((row) => [attemptKey({ jobId: row.job_id as string, attempt: row.attempt as number }), row]));
    return batch.map((i) => {
      const row = released.get(attemptKey(i));
      return row ? entityFromRow(this.ds, LeaseEntity, row) : null;
    });
  }

  async transitionLease(where: { id?: string; jobId?: string; attempt?: number }, to: LeaseStatus, fields: Partial<LeaseEntity> = {}): Promise<LeaseEntity | null> {
    const changes: Partial<LeaseEntity> = { ...fields, status: to, ...(ENDED_LEASES.includes(to) ? { outcomePublished: false } : {}) };
    const { raw } = await this.ds
      .createQueryBuilder()
      .update(LeaseEntity)
      .set(changes)
      .where(where)
      .andWhere('status IN (:...from)', { from: leaseTransitionSources(to) })
      .returning('*')
      .execute();
    const [row] = raw as Record<string, unknown>[];
    return row ? entityFromRow(this.ds, LeaseEntity, row) : null;
  }

  /**
   * A request not yet leased can be cancelled here; a leased one is the agent's to stop. Returns the
   * job's cancelled requests, including ones an earlier delivery of the cancel cancelled, so their
   * job.cancelled is announced again should that first announcement have failed.
   */
  async cancelPending(jobId: string, reason: string): Promise<LeaseRequestEntity[]> {
    return this.ds.transaction(async (em) => {
      const repo = em.getRepository(LeaseRequestEntity);
      const requests = await repo.find({ where: { jobId, status: In(['pending', 'cancelled']) }, lock: { mode: 'pessimistic_write' } });
      for (const r of requests.filter((r) => r.status === 'pending')) {
        await repo.update({ jobId: r.jobId, attempt: r.attempt }, { status: 'cancelled', cancelReason: reason });
        Object.assign(r, { status: 'cancelled', cancelReason: reason });
      }
      return requests;
    });
  }

  silentAgents(seenBefore: Date): Promise<AgentEntity[]> {
    return this.ds.getRepository(AgentEntity).find({ where: { status: 'alive', lastSeenAt: LessThan(seenBefore) } });
  }

  async markSilent(agentId: string, seenBefore: Date): Promise<boolean> {
    const r = await this.ds.getRepository(AgentEntity).update({ id: agentId, status: 'alive', lastSeenAt: LessThan(seenBefore) }, { status: 'silent' });
    return (r.affected ?? 0) > 0;
  }

  /** Assigned leases whose agent never confirmed a start: their assign message may be lost. */
  unconfirmedLeases(createdBefore: Date): Promise<LeaseEntity[]> {
    return this.ds.getRepository(LeaseEntity).find({ where: { status: 'assigned', createdAt: LessThan(createdBefore) } });
  }

  findLease(id: string): Promise<LeaseEntity | null> {
    return this.ds.getRepository(LeaseEntity).findOne({ where: { id } });
  }

  async markOutcomesPublished(ids: string[]): Promise<void> {
    await this.ds.query(`UPDATE broker.leases SET outcome_published = true WHERE id = ANY($1::text[])`, [ids]);
  }

  unpublishedOutcomes(endedBefore: Date): Promise<LeaseEntity[]> {
    return this.ds.getRepository(LeaseEntity).find({ where: { outcomePublished: false, endedAt: LessThan(endedBefore) }, order: { endedAt: 'ASC' }, take: 100 });
  }

  /** Notes which of an agent's active leases its heartbeat lists and since when the others are missing from it. */
  async trackReported(agentId: string, runningLeaseIds: string[], at: Date): Promise<void> {
    await this.ds.query(
      `UPDATE broker.leases SET missing_since = CASE WHEN id = ANY($2) THEN NULL ELSE COALESCE(missing_since, $3) END
        WHERE agent_id = $1 AND status IN ('assigned', 'running') AND (missing_since IS NULL) = (id <> ALL($2))`,
      [agentId, runningLeaseIds, at],
    );
  }

  /** Active leases their (heartbeating) agent has not listed since before `missingBefore`. */
  unreportedLeases(missingBefore: Date): Promise<LeaseEntity[]> {
    return this.ds.getRepository(LeaseEntity).find({ where: { status: In(ACTIVE_LEASES), missingSince: LessThan(missingBefore) } });
  }
}
