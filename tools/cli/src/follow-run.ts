import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import type { EventMessage } from '@trainyard/contracts';
import type { NatsBus } from '@trainyard/messaging';

export type RunOutcome = { kind: 'completed'; message: EventMessage<'run.completed'> } | { kind: 'planned'; message: EventMessage<'run.planned'> };

export interface FollowOptions {
  runId: string;
  /** Stream sequence of our request: job events before it belong to other runs. */
  fromSeq: number;
  dryRun: boolean;
  timeoutMs: number;
  onEvent: (subject: string, data: any) => void;
}

async function* ordered(js: JetStreamClient, stream: string, filter: string, opts: { deliver_policy: DeliverPolicy; opt_start_seq?: number }) {
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, ...opts });
  const messages = await consumer.consume();
  try {
    for await (const m of messages) yield { subject: m.subject, data: JSON.parse(m.string()) };
  } finally {
    messages.stop();
  }
}

/**
 * Follows one run on the bus until it completes (or, for a dry run, is planned). Run events are read
 * from the start of the stream, so a run that already finished is still found.
 */
export async function followRun(bus: NatsBus, opts: FollowOptions): Promise<RunOutcome> {
  const prefix = bus.options.prefix;
  const runEvents = ordered(bus.js, bus.streamName, `${prefix}.run.>`, { deliver_policy: DeliverPolicy.All });
  const jobEvents = ordered(bus.js, bus.streamName, `${prefix}.job.>`, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.fromSeq });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run ${opts.runId} did not complete within ${Math.round(opts.timeoutMs / 60_000)} min`)), opts.timeoutMs);
  });
  const jobs = (async () => {
    for await (const e of jobEvents) if (e.data?.runId === opts.runId) opts.onEvent(e.subject.slice(prefix.length + 1), e.data);
  })();
  const run = (async (): Promise<RunOutcome> => {
    for await (const e of runEvents) {
      if (e.data?.runId !== opts.runId) continue;
      const subject = e.subject.slice(prefix.length + 1);
      opts.onEvent(subject, e.data);
      if (subject === 'run.completed') return { kind: 'completed', message: e.data };
      if (subject === 'run.planned' && opts.dryRun) return { kind: 'planned', message: e.data };
    }
    throw new Error('the event stream ended before the run completed');
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    await runEvents.return(undefined);
    await jobEvents.return(undefined);
    void jobs.catch(() => undefined);
  }
}
