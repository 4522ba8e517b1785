import { DeliverPolicy, type ConsumerMessages, type OrderedConsumerOptions } from '@nats-io/jetstream';
import type { EventMessage, EventName } from '@trainyard/contracts';

type JobEventName = Extract<EventName, `job.${string}`>;
import type { NatsBus } from '@trainyard/messaging';

export type RunOutcome = { kind: 'completed'; message: EventMessage<'run.completed'> } | { kind: 'planned'; message: EventMessage<'run.planned'> };

export interface FollowOptions {
  runId: string;
  /** The request's message id: a refusal comes back as a command.result keyed on it. */
  requestId: string;
  /** Stream sequence of our request: a new run's events, and the refusal of our request, come after it. */
  fromSeq: number;
  /** Set when the run existed before our request (see existingRunStart): its events are read from this time on. */
  since?: Date | null;
  dryRun: boolean;
  timeoutMs: number;
  /** A run or job event of the run, as it came off the bus. */
  onEvent: (subject: string, data: EventMessage<'run.planned' | 'run.started' | JobEventName>) => void;
  /**
   * Called once when `unansweredMs` pass without a word of the run from a scheduler (an event, or the
   * refusal of our request): none may be running. The request waits on the bus meanwhile.
   */
  onUnanswered?: () => void;
  unansweredMs?: number;
}

type Start = Pick<OrderedConsumerOptions, 'deliver_policy'> & Partial<Pick<OrderedConsumerOptions, 'opt_start_seq' | 'opt_start_time'>>;

async function orderedMessages(bus: NatsBus, filter: string, opts: Start): Promise<ConsumerMessages> {
  const consumer = await bus.js.consumers.get(bus.streamName, { filter_subjects: `${bus.options.prefix}.${filter}`, ...opts });
  return consumer.consume();
}

/** Room for a scheduler whose clock is behind the NATS server's when a run's events are looked up by time. */
const CLOCK_SKEW_MS = 60_000;

/**
 * Where the events of a run the caller named (--run-id) begin, asked of the scheduler before the
 * request goes out: null when it does not know the run (its events will follow our request); the
 * run's creation time when it does (a repeated request is dropped as a duplicate or answered by
 * announcing the run again, so its first events lie before our request); the start of the stream
 * when no scheduler answers, as it may know the run once it is up.
 */
export async function existingRunStart(bus: NatsBus, runId: string): Promise<Date | null> {
  try {
    const { run } = await bus.query('runs.find', { id: runId });
    return run ? new Date(Date.parse(run.createdAt) - CLOCK_SKEW_MS) : null;
  } catch {
    return new Date(0);
  }
}

/**
 * Follows one run on the bus until it completes (or, for a dry run, is planned), reading the stream
 * from our request on, or from `since` for a run that existed before it: never the whole stream.
 */
export async function followRun(bus: NatsBus, opts: FollowOptions): Promise<RunOutcome> {
  const prefix = bus.options.prefix;
  const relative = (subject: string) => subject.slice(prefix.length + 1);
  const start: Start = opts.since
    ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() }
    : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq };
  const runEvents = await orderedMessages(bus, 'run.>', start);
  const jobEvents = await orderedMessages(bus, 'job.>', start);
  const results = await orderedMessages(bus, 'command.result', { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq });
  const timer = setTimeout(() => {
    runEvents.stop(new Error(`run ${opts.runId} did not complete within ${Math.round(opts.timeoutMs / 60_000)} min`));
  }, opts.timeoutMs);
  const unanswered = opts.onUnanswered && setTimeout(opts.onUnanswered, opts.unansweredMs ?? 15_000);
  void (async () => {
    for await (const m of jobEvents) {
      const data = JSON.parse(m.string());
      if (data?.runId === opts.runId) opts.onEvent(relative(m.subject), data);
    }
  })().catch(() => undefined);
  void (async () => {
    for await (const m of results) {
      const data = JSON.parse(m.string());
      if (data?.commandId !== opts.requestId) continue;
      clearTimeout(unanswered);
      if (data.ok === false) runEvents.stop(new Error(`the scheduler refused the run: ${data.message}`));
    }
  })().catch(() => undefined);
  try {
    for await (const m of runEvents) {
      const data = JSON.parse(m.string());
      if (data?.runId !== opts.runId) continue;
      const subject = relative(m.subject);
      // Our own request is on this stream too; only what a scheduler says is an answer.
      if (subject !== 'run.requested') clearTimeout(unanswered);
      opts.onEvent(subject, data);
      if (subject === 'run.completed') return { kind: 'completed', message: data };
      if (subject === 'run.planned' && opts.dryRun) return { kind: 'planned', message: data };
    }
    const closed = await runEvents.closed();
    throw closed instanceof Error ? closed : new Error('the event stream ended before the run completed');
  } finally {
    clearTimeout(timer);
    clearTimeout(unanswered);
    // Stopping ends both iterators, including one waiting for a message that will never come.
    runEvents.stop();
    jobEvents.stop();
    results.stop();
  }
}
