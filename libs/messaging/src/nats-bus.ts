import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, nkeyAuthenticator, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { contractFor, SCHEMA_VERSION, type EventInput, type EventMessage, type EventName, type QueryName, type QueryRequestInput, type QueryResponse } from '@trainyard/contracts';
import { DEFAULT_MAX_PAYLOAD } from './dead-letter';
import { NoStreamError } from './errors';
import { natsServers, streamNameFor, type MessagingOptions } from './messaging-options';
import { ensureStream, retryTransient } from './provisioning';
import { answerQuery, requestQuery, type QueryHandler } from './queries';
import { injectTraceContext, startProducerSpan } from './trace-context';

export interface PublishOptions {
  /** Message id, also the de-duplication key; derive it from the data for idempotent republishes. */
  id?: string;
  occurredAt?: Date;
}

/** A message this service dead-lettered, as told to the hooks (the metrics' counter, say). */
export interface DeadLetterNotice {
  /** The original subject, relative to the prefix (`run.requested`, `agent.<id>.assign`). */
  subject: string;
  consumer: string;
  reason: string;
  deliveryCount: number;
}

/** The client reports a JetStream publish nobody answered as JetStreamNotEnabled, its cause a no-responders RequestError. */
function isNoResponders(err: unknown): boolean {
  const e = err as { name?: string; cause?: { isNoResponders?: () => boolean } } | undefined;
  return e?.name === 'JetStreamNotEnabled' || e?.cause?.isNoResponders?.() === true;
}

export type DeadLetterHook = (letter: DeadLetterNotice) => void;

/** The one connection of a service to NATS, and every publish it makes. */
@Injectable()
export class NatsBus implements OnApplicationShutdown {
  private readonly log = new Logger('NatsBus');
  private readonly deadLetterHooks = new Set<DeadLetterHook>();
  readonly streamName: string;

  private constructor(
    readonly options: MessagingOptions,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    streamName: string,
  ) {
    this.streamName = streamName;
  }

  static async connect(options: MessagingOptions): Promise<NatsBus> {
    const { nkeySeed, user, password } = options.auth ?? {};
    const nc = await connect({
      servers: natsServers(options.natsUrl),
      ignoreClusterUpdates: options.discoverServers === false,
      name: options.serviceName,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // Otherwise every request, and so every JetStream publish, builds two errors up front for their
      // stack traces (of the call site, in case it fails): about a millisecond of CPU a job across the
      // services. A failure still carries its own message and cause, and callers say what they were doing.
      noAsyncTraces: true,
      ...(nkeySeed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(nkeySeed)) } : user ? { user, pass: password } : {}),
    });
    const jsm = await jetstreamManager(nc, { checkAPI: options.provision !== false });
    const log = new Logger('NatsBus');
    const streamName =
      options.provision === false
        ? streamNameFor(options.prefix)
        : await retryTransient(
            () => ensureStream(jsm, options),
            'creating the stream',
            (m) => log.warn(m),
          );
    return new NatsBus(options, nc, jetstream(nc), jsm, streamName);
  }

  /** The largest message the server takes (its max_payload), headers included. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  subject(relative: string): string {
    return `${this.options.prefix}.${relative}`;
  }

  /** Validates against the event's schema, then publishes with its id as Nats-Msg-Id and the trace context in headers. */
  async publish<N extends EventName>(name: N, input: EventInput<N>, opts: PublishOptions = {}): Promise<EventMessage<N>> {
    const contract = contractFor(name);
    const candidate = {
      ...input,
      schemaVersion: SCHEMA_VERSION,
      id: opts.id ?? randomUUID(),
      occurredAt: (opts.occurredAt ?? new Date()).toISOString(),
    };
    const parsed = contract.schema.safeParse(candidate);
    if (!parsed.success) {
      throw new Error(`refusing to publish invalid ${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const message = parsed.data as EventMessage<N>;
    await this.publishRaw(this.subject(contract.subject(message)), JSON.stringify(message), message.id);
    return message;
  }

  /**
   * A JetStream publish, acknowledged by the stream that stored it. Never a core publish: where no
   * stream stores `subject` it throws NoStreamError rather than letting the message go nowhere.
   */
  async publishRaw(subject: string, data: string, msgId?: string, extra?: MsgHdrs): Promise<PubAck> {
    const span = startProducerSpan(subject);
    try {
      const h = extra ?? natsHeaders();
      injectTraceContext(h, trace.setSpan(context.active(), span));
      const ack = await this.js.publish(subject, data, { msgID: msgId, headers: h });
      span.setAttribute('messaging.message.id', msgId ?? '');
      span.setAttribute('messaging.nats.duplicate', ack.duplicate);
      return ack;
    } catch (err) {
      const error = isNoResponders(err) ? new NoStreamError(subject, this.streamName, { cause: err }) : err;
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  /** Asks the service that answers `name` and waits for its validated answer; a QueryError says why there is none. */
  query<N extends QueryName>(name: N, request: QueryRequestInput<N>, timeoutMs = 5000): Promise<QueryResponse<N>> {
    return requestQuery(this.nc, this.options.prefix, name, request, timeoutMs);
  }

  /** Answers `name` in this service's queue group until the subscription is drained (or the connection is). */
  answer<N extends QueryName>(name: N, handler: QueryHandler<N>): Promise<Subscription> {
    return answerQuery(this.nc, this.options.prefix, this.options.serviceName, name, handler);
  }

  /** Calls `hook` for each message this service dead-letters; returns the way to stop. Per bus, not global. */
  onDeadLetter(hook: DeadLetterHook): () => void {
    this.deadLetterHooks.add(hook);
    return () => this.deadLetterHooks.delete(hook);
  }

  /** Told by the transport once a dead letter is on record. A failing hook never disturbs consuming. */
  notifyDeadLetter(letter: DeadLetterNotice): void {
    for (const hook of this.deadLetterHooks) {
      try {
        hook(letter);
      } catch (err) {
        this.log.warn(`dead-letter hook failed: ${(err as Error).message}`);
      }
    }
  }

  /** A key-value bucket on this connection, created with one revision per key if absent. */
  async keyValue(bucket: string): Promise<KV> {
    return retryTransient(
      () => new Kvm(this.js).create(bucket, { history: 1, replicas: this.options.streamReplicas ?? 1 }),
      `opening the bucket ${bucket}`,
      (m) => this.log.warn(m),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch((err) => this.log.warn(`drain failed: ${err}`));
  }
}
