import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { EventMessage, JobSpec, Lease } from '@trainyard/contracts';
import { captureTraceContext, NatsBus, withTraceContext } from '@trainyard/messaging';
import { Clock, CoalescedPasses } from '@trainyard/runtime';
import { BROKER_CONFIG, type BrokerConfig } from '../config/broker.config';
import { BrokerStore, type PendingRequest } from './broker.store';
import { RENTED_INSTANCES, type RentedInstances } from './rented-instances';
import type { LeaseRequestEntity } from './lease-request.entity';
import { LeaseEntity } from './lease.entity';
import { findPlacement, hasRoom, occupy, type Placement } from './placement';

export const leaseIdFor = (jobId: string, attempt: number) => `${jobId}-a${attempt}-lease`;

/** A GPU job's memory: what past runs of the symbol used, with headroom, once known; until then what it declared. CPU jobs stay CPU jobs. */
export function gpuMemoryNeed(declaredGb: number, learnedGb: number | undefined, headroom: number): number {
  if (declaredGb <= 0 || learnedGb === undefined || learnedGb <= 0) return declaredGb;
  return Math.ceil(learnedGb * headroom * 2) / 2;
}

/** A request being taken: when it was stamped, and when its row was committed. */
interface Arrival {
  at: Date;
  committed: Date | null;
}

/**
 * How long announced lease ends gather before one statement marks them all. Well under the
 * republisher's 10 s, so that a marked end is never announced again; a crash in between only repeats
 * the announcements, under the same ids.
 */
const OUTCOME_MARK_GATHER_MS = 200;

/** Reads of one pass that may lose their grant to other replicas before the pass gives up (and the next trigger tries again). */
const MAX_PASS_READS = 50;

/** Grants slots to queued job attempts and follows each lease until it ends. */
@Injectable()
export class LeaseService implements BeforeApplicationShutdown {
  private readonly log = new Logger('Leases');
  /** The placement pass under way here, and the one that starts when it ends. */
  private readonly passes = new CoalescedPasses<'placement', { announced: Promise<void> }>(() => this.placementPass());
  private passBegan: Date | null = null;
  /** A request was queued since the last pass began: the next one need not ask whether any waits. */
  private queuedSincePass = false;
  /** Requests taken here whose own pass has not answered yet. */
  private readonly arriving = new Set<Arrival>();

  private readonly leftWaitingListeners = new Set<() => void>();
  /** Lease ends announced and not yet marked so; a mark lost in a crash only means the end is announced again, under the same ids. */
  private readonly announcedEnds = new Set<string>();
  private readonly marks = new CoalescedPasses<'announced', void>(() => this.markAnnounced());
  private markTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: BrokerStore,
    @Inject(RENTED_INSTANCES) private readonly rented: RentedInstances,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(BROKER_CONFIG) private readonly cfg: BrokerConfig,
  ) {}

  /**
   * A repeated request (the scheduler asks again about a job it still sees unleased) is answered with
   * what became of the attempt here, in case the first answer never reached the bus; the answers keep
   * their message ids, so one the stream already holds is not stored twice.
   */
  async request(spec: JobSpec): Promise<void> {
    const arrival: Arrival = { at: this.clock.now(), committed: null };
    this.arriving.add(arrival);
    try {
      const existing = await this.store.enqueue(spec, arrival.at, captureTraceContext());
      arrival.committed = this.clock.now();
      if (!existing) this.queuedSincePass = true;
      if (existing?.status === 'cancelled') await this.announceCancelled(existing);
      if (existing?.status === 'leased') {
        const lease = await this.store.findLease(leaseIdFor(spec.jobId, spec.attempt));
        if (lease && (lease.status === 'assigned' || lease.status === 'running')) await this.announceLeased(lease);
        else if (lease) await this.publishOutcome(lease);
      }
      await this.dispatch();
    } finally {
      this.arriving.delete(arrival);
    }
  }

  /**
   * One placement pass at a time in this process, and passes coalesce: every call made during a pass
   * (a burst of requests, job ends, heartbeats) is answered by the one pass queued after it, which
   * places every waiting request it can. A caller waits for a pass that begins after its call (so a
   * request's handler acks only once its request was considered) and for no later one, however busy
   * the broker stays.
   */
  async dispatch(): Promise<void> {
    const { announced } = await this.passes.run('placement');
    await announced;
  }

  /**
   * When the last finished placement pass here began: a request made before then was considered by
   * it, so one still waiting found no room on any agent. Null until a pass finished. Another broker
   * replica's request is known only by its stamp, so one that commits within moments of a pass here
   * may be counted early; renting asks again right before each create.
   */
  get consideredBefore(): Date | null {
    const began = this.passBegan;
    if (!began) return null;
    // A request stamped before the pass began but committed after it may not have been read by it.
    let before = began;
    for (const { at, committed } of this.arriving) if (at < before && !(committed && committed < began)) before = at;
    return before;
  }

  /** Called after each pass that left requests waiting for room (renting reacts at once, not on its next tick). */
  onLeftWaiting(listener: () => void): void {
    this.leftWaitingListeners.add(listener);
  }

  /**
   * Places, then announces what it placed; the pass ends when its placements are committed, so the
   * next pass does not wait for these announcements' PubAcks. Its callers still do.
   */
  private async placementPass(): Promise<{ announced: Promise<void> }> {
    const began = this.clock.now();
    const { granted, leftWaiting } = await this.placePending();
    this.passBegan = began;
    if (leftWaiting) for (const listener of this.leftWaitingListeners) listener();
    // Different jobs' announcements in any order; a failed one is sent again from its row (unconfirmedLeases).
    const announced = Promise.allSettled(granted.map((lease) => this.announce(lease))).then((sent) => {
      const failed = sent.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
    // Every caller the pass served awaits it; this keeps a rejection nobody awaited yet from going unhandled.
    announced.catch(() => undefined);
    return { announced };
  }

  /**
   * Reads what placement needs and no more, in one statement: agents with what their active leases
   * hold (summed), and the waiting requests' sizes; the specs stay in the database (the grant copies
   * them into the leases). When another replica granted between its read and its grant, the pass
   * placed on capacity that may be gone: its grant applies nothing (BrokerStore.grant) and it reads again.
   */
  private async placePending(): Promise<{ granted: LeaseEntity[]; leftWaiting: boolean }> {
    // Most passes (heartbeats, ticks, job ends) find nothing waiting: one read says so cheaply,
    // unless a request was queued since the last pass began. A request that commits after it dispatches again.
    const queued = this.queuedSincePass;
    this.queuedSincePass = false;
    if (!queued && !(await this.store.hasPending())) return { granted: [], leftWaiting: false };
    for (let reads = 1; ; reads++) {
      const placed = await this.placeOnce();
      if (placed) return placed;
      // Each lost grant is another replica's progress; this many in a row means something else is wrong.
      if (reads >= MAX_PASS_READS) throw new Error(`placement lost ${reads} grants in a row to other broker replicas`);
    }
  }

  /** One read and, when something fits, one grant; null when another replica's grant came between. */
  private async placeOnce(): Promise<{ granted: LeaseEntity[]; leftWaiting: boolean } | null> {
    const { epoch, agents: alive, usage, pending } = await this.store.dispatchState();
    const nothing = (leftWaiting: boolean) => ({ granted: [], leftWaiting });
    if (pending.length === 0) return nothing(false);
    // Only a rented agent needs its instance's state and price: a local-only broker skips the read.
    const rented = alive.some((a) => a.provider === 'vast') ? await this.rented.placeableAgents(this.store.manager) : new Map<string, number>();
    const agents = alive.filter((a) => a.provider !== 'vast' || rented.has(a.id));
    const rules = { maxJobsPerGpu: this.cfg.BROKER_MAX_JOBS_PER_GPU, memoryMargin: this.cfg.BROKER_GPU_MEMORY_MARGIN };
    if (!hasRoom(agents, usage, rules)) return nothing(true);
    const placed: Array<{ req: PendingRequest; placement: Placement; need: number }> = [];
    for (const req of pending) {
      const need = gpuMemoryNeed(req.gpuMemoryGb, req.learnedGb ?? undefined, this.cfg.BROKER_LEARNED_MEMORY_HEADROOM);
      const placement = findPlacement(need, agents, usage, rules);
      if (!placement) continue;
      occupy(usage, placement, need);
      placed.push({ req, placement, need });
      if (!hasRoom(agents, usage, rules)) break;
    }
    if (placed.length === 0) return nothing(true);
    const providers = new Map(agents.map((a) => [a.id, a.provider]));
    const grants = placed.map(({ req: { jobId, attempt }, placement: { agentId, device }, need }) => ({
      jobId,
      attempt,
      leaseId: leaseIdFor(jobId, attempt),
      agentId,
      provider: providers.get(agentId)!,
      device,
      gpuMemoryGb: need,
      pricePerHour: rented.get(agentId) ?? this.cfg.BROKER_LOCAL_PRICE_PER_HOUR,
    }));
    const granted = await this.store.grant(grants, this.clock.now(), epoch);
    return granted && { granted, leftWaiting: placed.length < pending.length };
  }

  toLease(l: LeaseEntity): Lease {
    return {
      leaseId: l.id,
      agentId: l.agentId,
      provider: l.provider,
      device: l.device,
      gpuMemoryGb: l.gpuMemoryGb,
      pricePerHour: l.pricePerHour,
      startedAt: l.createdAt.toISOString(),
      endsBy: l.endsBy.toISOString(),
    };
  }

  /**
   * The assign command and the leased event, side by side: the scheduler takes a job.started that
   * overtakes job.leased (released → running), so neither waits for the other's PubAck. Their ids make
   * a repeat after a crash harmless.
   */
  async announce(l: LeaseEntity): Promise<void> {
    // Placed from a heartbeat or a timer as often as from the request: publish inside the run's trace.
    await Promise.all([withTraceContext(l.traceContext, () => this.bus.publish('agent.assign', { spec: l.spec, lease: this.toLease(l) }, { id: `${l.id}-assign` })), this.announceLeased(l)]);
    this.log.log({
      event: 'lease_granted',
      runId: l.spec.runId,
      jobId: l.jobId,
      symbol: l.spec.symbol,
      attempt: l.attempt,
      leaseId: l.id,
      agentId: l.agentId,
      provider: l.provider,
      device: l.device,
      pricePerHour: l.pricePerHour,
      msg: `leased ${l.spec.symbol}#${l.attempt} to ${l.agentId} ${l.device}`,
    });
  }

  private announceLeased(l: LeaseEntity): Promise<unknown> {
    return withTraceContext(l.traceContext, () => this.bus.publish('job.leased', { jobId: l.jobId, runId: l.spec.runId, attempt: l.attempt, lease: this.toLease(l) }, { id: `${l.id}-leased` }));
  }

  async started(m: EventMessage<'job.started'>): Promise<void> {
    await this.store.markStarted(m.jobId, m.attempt, new Date(m.occurredAt));
  }

  /**
   * The attempt ended on its agent (success, failure or cancel): the slot is free again. `ran`: the
   * attempt's own start and finish when its agent reported them, so the lease costs what the run
   * summary counts.
   */
  async ended(jobId: string, attempt: number, reason: string, at: Date, ran?: { startedAt: Date; finishedAt: Date }): Promise<void> {
    const lease = await this.store.release({ jobId, attempt, endedAt: ran?.finishedAt ?? at, endReason: reason, startedAt: ran?.startedAt });
    if (!lease) return;
    // The slot is free once the row says so: the next placement does not wait for lease.released's PubAck.
    await Promise.all([this.publishOutcome(lease), this.dispatch()]);
  }

  async lose(lease: LeaseEntity, reason: string): Promise<void> {
    const lost = await this.store.transitionLease({ id: lease.id }, 'lost', { endedAt: this.clock.now(), endReason: reason });
    if (!lost) return;
    this.log.warn({
      event: 'lease_lost',
      runId: lost.spec.runId,
      jobId: lost.jobId,
      symbol: lost.spec.symbol,
      attempt: lost.attempt,
      leaseId: lost.id,
      agentId: lost.agentId,
      reason,
      msg: `lease ${lost.id} lost: ${reason}`,
    });
    await this.publishOutcome(lost);
  }

  /**
   * Announces how a lease ended, from its row alone, so a publish that failed (JetStream unavailable
   * for a moment after the end was committed) is made again by `republishOutcomes` with the same ids.
   */
  private async publishOutcome(l: LeaseEntity): Promise<void> {
    const reason = l.endReason ?? l.status;
    await withTraceContext(l.traceContext, async () => {
      if (l.status === 'released') {
        const seconds = Math.max(0, (l.endedAt!.getTime() - (l.startedAt ?? l.createdAt).getTime()) / 1000);
        await this.bus.publish(
          'lease.released',
          { leaseId: l.id, jobId: l.jobId, attempt: l.attempt, agentId: l.agentId, seconds, cost: (l.pricePerHour * seconds) / 3600 },
          { id: `${l.id}-released` },
        );
        return;
      }
      await this.bus.publish('lease.lost', { leaseId: l.id, jobId: l.jobId, runId: l.spec.runId, symbol: l.spec.symbol, attempt: l.attempt, agentId: l.agentId, reason }, { id: `${l.id}-lost` });
      // Fencing: the agent may still be alive (a partition, a stalled heartbeat). Tell it to drop this
      // lease, and to refuse its assignment should that arrive later; the job is retried elsewhere.
      await this.bus.publish('job.cancel', { jobId: l.jobId, reason: `lease ${l.id} lost: ${reason}`.slice(0, 500), leaseId: l.id, attempt: l.attempt, agentId: l.agentId }, { id: `${l.id}-fence` });
    });
    this.announcedEnds.add(l.id);
    this.markTimer ??= setTimeout(() => {
      this.markTimer = undefined;
      this.marks
        .run('announced')
        .catch((err: Error) => this.log.warn({ event: 'lease_outcome_mark_failed', msg: `could not record lease ends as announced (${err.message}); they are announced again, under the same ids` }));
    }, OUTCOME_MARK_GATHER_MS);
  }

  /** Records the ends announced and not yet marked as the broker stops, while its database is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    await this.marks.run('announced');
  }

  /** One statement marks every end announced in a gathering window: under load, many leases' at once. */
  private async markAnnounced(): Promise<void> {
    const ids = [...this.announcedEnds];
    this.announcedEnds.clear();
    if (ids.length) await this.store.markOutcomesPublished(ids);
  }

  /** Ends committed but not yet announced, older than `endedBefore` so a publish still in flight is left alone. */
  async republishOutcomes(endedBefore: Date): Promise<void> {
    for (const lease of await this.store.unpublishedOutcomes(endedBefore)) {
      this.log.warn({
        event: 'lease_outcome_republished',
        jobId: lease.jobId,
        attempt: lease.attempt,
        leaseId: lease.id,
        status: lease.status,
        msg: `announcing again that lease ${lease.id} is ${lease.status}`,
      });
      await this.publishOutcome(lease);
    }
  }

  /** A job's cancel drops its requests still waiting here; the broker's own fence of one lease (leaseId set) does not. */
  async cancel(m: EventMessage<'job.cancel'>): Promise<void> {
    if (m.leaseId) return;
    for (const req of await this.store.cancelPending(m.jobId, m.reason)) await this.announceCancelled(req);
  }

  private announceCancelled(req: LeaseRequestEntity): Promise<unknown> {
    return this.bus.publish(
      'job.cancelled',
      { jobId: req.jobId, runId: req.spec.runId, symbol: req.spec.symbol, attempt: req.attempt, reason: req.cancelReason ?? 'cancelled while waiting for a slot' },
      { id: `${req.jobId}-a${req.attempt}-cancelled` },
    );
  }
}
