import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { ConsumerMessages, JsMsg, PubAck } from '@nats-io/jetstream';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { lastValueFrom, defaultIfEmpty } from 'rxjs';
import { contractFor, deadLetterSubject, SCHEMA_VERSION, type DeadLetter } from '@trainyard/contracts';
import { createHash } from 'node:crypto';
import type { ConsumeOptions } from './consume.decorator';
import { capReason, DEAD_LETTER_HEADER_ROOM, fitDeadLetter } from './dead-letter';
import { describeError, PermanentError } from './errors';
import { JetStreamContext } from './message-context';
import type { NatsBus } from './nats-bus';
import { durableName, ensureDurable, retryTransient } from './provisioning';
import { retryDelayMs } from './retry-delay';
import { extractTraceContext, startConsumerSpan } from './trace-context';

/** Tries at storing a dead letter before the message is nak'ed instead. */
const DEAD_LETTER_ATTEMPTS = 3;

interface Subscription {
  durable: string;
  messages: ConsumerMessages;
  loop: Promise<void>;
}

/**
 * A Nest transport over JetStream durable pull consumers. Nest's own event dispatch swallows handler
 * errors, so this strategy calls each handler itself and acks only after it resolves, naks with a
 * growing delay on a transient error, and dead-letters what can never succeed.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('JetStreamServer');
  private readonly subs: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;

  /** `vars` fill `{name}` placeholders in filters and durable names, e.g. an agent's own `agent.{agentId}.assign`. */
  constructor(
    private readonly bus: NatsBus,
    private readonly vars: Record<string, string> = {},
  ) {
    super();
  }

  private fill(template: string): string {
    return template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = this.vars[name];
      if (value === undefined) throw new Error(`no value for {${name}} in consumer "${template}"`);
      return value;
    });
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      for (const [pattern, handler] of this.messageHandlers) await this.subscribe(pattern, handler);
      callback();
    } catch (err) {
      callback(err);
    }
  }

  private async subscribe(pattern: string, handler: MessageHandler): Promise<void> {
    const contract = contractFor(pattern);
    const opts: ConsumeOptions = handler.extras?.trainyard ?? {};
    const o = this.bus.options;
    const filter = this.fill(opts.filter ?? contract.filter);
    const durable = durableName(o.serviceName, this.fill(opts.durable ?? filter));
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const maxDeliver = opts.maxDeliver ?? o.maxDeliver ?? 5;
    const ackWaitMs = opts.ackWaitMs ?? o.ackWaitMs ?? 30_000;
    const maxAckPending = Math.max(concurrency * 4, 16);
    await retryTransient(
      () =>
        ensureDurable(this.bus.jsm, this.bus.streamName, {
          durable,
          filterSubject: this.bus.subject(filter),
          maxDeliver,
          ackWaitMs,
          maxAckPending,
        }),
      `creating the consumer ${durable}`,
      (m) => this.logger.warn(m),
    );
    const consumer = await retryTransient(
      () => this.bus.js.consumers.get(this.bus.streamName, durable),
      `opening the consumer ${durable}`,
      (m) => this.logger.warn(m),
    );
    // The client asks for more once half its buffer is handled: a pull request per `buffered / 2`
    // messages (nats.js's default, three quarters, asked again after every message of a buffer of 4
    // and every other of 8). The buffer never exceeds maxAckPending; an ordered consumer (concurrency
    // 1) keeps a short one: what waits in it runs down its ack wait behind the one being handled.
    const buffered = concurrency === 1 ? 4 : concurrency * 4;
    const messages = await consumer.consume({ max_messages: buffered, threshold_messages: buffered / 2 });
    const loop = this.pump(messages, concurrency, (m) => this.handle(pattern, handler, m, durable, maxDeliver, ackWaitMs));
    this.subs.push({ durable, messages, loop });
    this.logger.log(`consuming ${this.bus.subject(filter)} as ${durable}`);
  }

  /** Reads in an async iterator (never awaiting inside consume callbacks), at most `concurrency` at once. */
  private async pump(messages: ConsumerMessages, concurrency: number, handle: (m: JsMsg) => Promise<void>): Promise<void> {
    const running = new Set<Promise<void>>();
    for await (const m of messages) {
      if (this.closing) {
        m.nak();
        continue;
      }
      const p = handle(m).finally(() => {
        running.delete(p);
        this.inFlight.delete(p);
      });
      running.add(p);
      this.inFlight.add(p);
      if (running.size >= concurrency) await Promise.race(running);
    }
    await Promise.allSettled(running);
  }

  private async handle(pattern: string, handler: MessageHandler, m: JsMsg, durable: string, maxDeliver: number, ackWaitMs: number): Promise<void> {
    const span = startConsumerSpan(m.subject, extractTraceContext(m.headers), durable);
    const deliveryCount = m.info.deliveryCount;
    try {
      let data: unknown;
      try {
        data = JSON.parse(m.string());
      } catch (err) {
        return await this.deadLetter(m, durable, maxDeliver, `malformed JSON: ${describeError(err)}`);
      }
      const parsed = contractFor(pattern).schema.safeParse(data);
      if (!parsed.success) {
        const version = (data as { schemaVersion?: unknown })?.schemaVersion;
        const reason =
          version !== undefined && version !== SCHEMA_VERSION
            ? `unsupported schemaVersion ${truncate(JSON.stringify(version) ?? String(version), 40)} (this service reads ${SCHEMA_VERSION})`
            : `invalid ${pattern}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
        return await this.deadLetter(m, durable, maxDeliver, reason);
      }
      const keepAlive = setInterval(() => m.working(), Math.max(500, ackWaitMs / 3));
      try {
        await context.with(trace.setSpan(context.active(), span), async () => {
          const result = await handler(parsed.data, new JetStreamContext([m]));
          await lastValueFrom(this.transformToObservable(result).pipe(defaultIfEmpty(undefined)));
        });
      } finally {
        clearInterval(keepAlive);
      }
      m.ack();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
      if (err instanceof PermanentError) {
        await this.deadLetter(m, durable, maxDeliver, describeError(err));
      } else if (deliveryCount >= maxDeliver) {
        await this.deadLetter(m, durable, maxDeliver, `failed on its last delivery (${deliveryCount}/${maxDeliver}): ${describeError(err)}`);
      } else {
        const o = this.bus.options;
        const delay = retryDelayMs(deliveryCount, o.retryBaseMs ?? 1000, o.retryMaxMs ?? 60_000);
        this.logger.warn(`${pattern} delivery ${deliveryCount}/${maxDeliver} failed, retrying in ${delay} ms: ${describeError(err)}`);
        m.nak(delay);
      }
    } finally {
      span.end();
    }
  }

  /**
   * Publishes the original message with the reason to `<prefix>.dlq.<subject>` and, once the stream
   * has acknowledged the letter, terminates the message with a bare `+TERM` (nats-server 2.9 ignores
   * `+TERM <reason>` and keeps the message pending, so it came back and was lettered again each ack
   * wait). The letter is cut to fit the server's max_payload, so it can always be stored; its id is
   * the de-duplication key, so a message that comes back anyway (a lost term) is lettered and counted
   * once. A letter that cannot be stored naks the message instead: it comes back, nothing is lost.
   */
  private async deadLetter(m: JsMsg, consumer: string, maxDeliver: number, fullReason: string): Promise<void> {
    const reason = capReason(fullReason);
    const prefix = `${this.bus.options.prefix}.`;
    const relative = m.subject.startsWith(prefix) ? m.subject.slice(prefix.length) : m.subject;
    const deliveryCount = m.info.deliveryCount;
    const headers: Record<string, string[]> = {};
    if (m.headers) for (const k of m.headers.keys()) headers[k] = m.headers.values(k);
    const maxPayload = this.bus.maxPayload;
    let letter: DeadLetter | undefined;
    let failure: unknown;
    try {
      letter = fitDeadLetter(
        {
          schemaVersion: SCHEMA_VERSION,
          id: `dlq-${this.bus.streamName}-${m.seq}-${consumer}`,
          occurredAt: new Date().toISOString(),
          subject: m.subject,
          consumer,
          reason,
          deliveryCount,
          headers,
          data: m.string(),
          dataBytes: m.data.length,
          dataSha256: createHash('sha256').update(m.data).digest('hex'),
        },
        maxPayload - DEAD_LETTER_HEADER_ROOM,
      );
    } catch (err) {
      failure = err;
    }
    const dlqSubject = this.bus.subject(deadLetterSubject(relative));
    let ack: PubAck | undefined;
    for (let attempt = 1; letter && attempt <= DEAD_LETTER_ATTEMPTS && !ack; attempt++) {
      try {
        ack = await this.bus.publishRaw(dlqSubject, JSON.stringify(letter), letter.id, natsHeaders());
      } catch (err) {
        failure = err;
        m.working();
        if (attempt < DEAD_LETTER_ATTEMPTS) await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    if (!ack || !letter) {
      const delay = this.bus.options.retryBaseMs ?? 1000;
      const last = deliveryCount >= maxDeliver;
      this.logger.error({
        event: 'dead_letter_failed',
        subject: relative,
        seq: m.seq,
        consumer,
        reason,
        deliveryCount,
        msg:
          `could not dead-letter ${m.subject} (seq ${m.seq}) for ${consumer}: ${describeError(failure)}; ` +
          (last ? `it was its last delivery (${deliveryCount}/${maxDeliver}), so the server will not deliver it again: it stays in the stream at seq ${m.seq}` : `nak, it comes back in ${delay} ms`),
      });
      m.nak(delay);
      return;
    }
    m.term();
    if (ack.duplicate) {
      this.logger.warn(`${m.subject} (seq ${m.seq}) came back after it was dead-lettered for ${consumer}; terminated again, not lettered twice`);
      return;
    }
    this.logger.error({
      event: 'message_dead_lettered',
      subject: relative,
      seq: m.seq,
      consumer,
      reason,
      deliveryCount,
      letterSeq: ack.seq,
      truncated: letter.truncated ?? false,
      msg: `dead-lettered ${m.subject} (seq ${m.seq}) for ${consumer}: ${reason}`,
    });
    this.bus.notifyDeadLetter({ subject: relative, consumer, reason, deliveryCount });
  }

  on(): never {
    throw new Error('JetStreamServer has no events to listen to');
  }

  unwrap<T>(): T {
    return this.bus.nc as T;
  }

  /** Stops pulling, then lets handlers in flight finish so their acks reach the server before the drain. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.subs) s.messages.stop();
    await Promise.allSettled([...this.inFlight]);
    await Promise.allSettled(this.subs.map((s) => s.loop));
    this.subs.length = 0;
  }
}

/** An echo of the sender's value in a reason: enough to recognise it, never the whole of a huge one. */
function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
