import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { EventMessage, EventName } from '@trainyard/contracts';

type JobEventName = Extract<EventName, `job.${string}`>;
import type { NatsBus } from '@trainyard/messaging';

export type RunOutcome = { kind: 'completed'; message: EventMessage<'run.completed'> } | { kind: 'planned'; message: EventMessage<'run.planned'> };

export interface FollowOptions {
  runId: string;
  /** The request's message id: a refusal comes back as a command.result keyed on it. */
  requestId: string;
  /** Stream sequence of our request: job events before it belong to other runs. */
  fromSeq: number;
  dryRun: boolean;
  timeoutMs: number;
  /** A run or job event of the run, as it came off the bus. */
  onEvent: (subject: string, data: EventMessage<'run.planned' | 'run.started' | JobEventName>) => void;
}

async function orderedMessages(bus: NatsBus, filter: string, opts: { deliver_policy: DeliverPolicy; opt_start_seq?: number }): Promise<ConsumerMessages> {
  const consumer = await bus.js.consumers.get(bus.streamName, { filter_subjects: `${bus.options.prefix}.${filter}`, ...opts });
  return consumer.consume();
}

/**
 * Follows one run on the bus until it completes (or, for a dry run, is planned). Run events are read
 * from the start of the stream, so a run that already finished is still found.
 */
export async function followRun(bus: NatsBus, opts: FollowOptions): Promise<RunOutcome> {
  const prefix = bus.options.prefix;
  const relative = (subject: string) => subject.slice(prefix.length + 1);
  const runEvents = await orderedMessages(bus, 'run.>', { deliver_policy: DeliverPolicy.All });
  const jobEvents = await orderedMessages(bus, 'job.>', { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq });
  const results = await orderedMessages(bus, 'command.result', { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq });
  const timer = setTimeout(() => {
    runEvents.stop(new Error(`run ${opts.runId} did not complete within ${Math.round(opts.timeoutMs / 60_000)} min`));
  }, opts.timeoutMs);
  void (async () => {
    for await (const m of jobEvents) {
      const data = JSON.parse(m.string());
      if (data?.runId === opts.runId) opts.onEvent(relative(m.subject), data);
    }
  })().catch(() => undefined);
  void (async () => {
    for await (const m of results) {
      const data = JSON.parse(m.string());
      if (data?.commandId === opts.requestId && data.ok === false) runEvents.stop(new Error(`the scheduler refused the run: ${data.message}`));
    }
  })().catch(() => undefined);
  try {
    for await (const m of runEvents) {
      const data = JSON.parse(m.string());
      if (data?.runId !== opts.runId) continue;
      const subject = relative(m.subject);
      opts.onEvent(subject, data);
      if (subject === 'run.completed') return { kind: 'completed', message: data };
      if (subject === 'run.planned' && opts.dryRun) return { kind: 'planned', message: data };
    }
    const closed = await runEvents.closed();
    throw closed instanceof Error ? closed : new Error('the event stream ended before the run completed');
  } finally {
    clearTimeout(timer);
    // Stopping ends both iterators, including one waiting for a message that will never come.
    runEvents.stop();
    jobEvents.stop();
    results.stop();
  }
}
