import { nanos } from '@nats-io/nats-core';
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { streamNameFor, type MessagingOptions } from './messaging-options';

const isNotFound = (err: unknown) => /not found/i.test(String((err as Error)?.message ?? err));

/**
 * Answers JetStream gives while it is electing leaders (a cluster starting, a node just lost) or too
 * busy to answer in time: worth asking again, unlike a refused configuration.
 */
export const isTransientJetStreamError = (err: unknown): boolean =>
  /timeout|temporarily unavailable|no responders|no suitable peers|insufficient resources|cluster.*(not|no).*(leader|current)|stream leader|503/i.test(String((err as Error)?.message ?? err));

/** Retries `fn` while JetStream answers transiently, up to `timeoutMs`; anything else fails at once. */
export async function retryTransient<T>(fn: () => Promise<T>, what: string, onRetry: (message: string) => void, timeoutMs = 120_000): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientJetStreamError(err) || Date.now() - started > timeoutMs) throw err;
      onRetry(`${what}: ${(err as Error).message}; asking again (attempt ${attempt + 1})`);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** Math.min(attempt, 3), 2000)));
    }
  }
}

/**
 * One stream per installation prefix holding every subject under it; safe to call from every service at
 * boot. Without `streamReplicas` an existing stream keeps its replicas (a tool never changes them).
 */
export async function ensureStream(jsm: JetStreamManager, options: MessagingOptions): Promise<string> {
  const name = streamNameFor(options.prefix);
  const config = {
    name,
    subjects: [`${options.prefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos((options.maxAgeDays ?? 7) * 24 * 3600 * 1000),
    duplicate_window: nanos((options.duplicateWindowMinutes ?? 10) * 60 * 1000),
  };
  try {
    const existing = await jsm.streams.info(name);
    await jsm.streams.update(name, { ...config, num_replicas: options.streamReplicas ?? existing.config.num_replicas });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ ...config, num_replicas: options.streamReplicas ?? 1 });
    } catch (addErr) {
      // Another service created it between our info and add.
      if (!/already in use|exists/i.test(String(addErr))) throw addErr;
    }
  }
  return name;
}

export interface DurableSpec {
  durable: string;
  filterSubject: string;
  maxDeliver: number;
  ackWaitMs: number;
  maxAckPending: number;
}

/** Add-or-update of a durable pull consumer (the client has no addOrUpdate). */
export async function ensureDurable(jsm: JetStreamManager, stream: string, spec: DurableSpec): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
  };
  try {
    await jsm.consumers.info(stream, spec.durable);
    await jsm.consumers.update(stream, spec.durable, {
      filter_subject: config.filter_subject,
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      max_ack_pending: config.max_ack_pending,
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(stream, config);
    } catch (addErr) {
      if (!/already in use|exists/i.test(String(addErr))) throw addErr;
    }
  }
}

export const durableName = (service: string, subjectFilter: string) =>
  `${service}__${subjectFilter}`.replace(/[.*>\s]/g, (c) => (c === '.' ? '_' : c === '*' ? 'STAR' : c === '>' ? 'GT' : '')).slice(0, 200);
