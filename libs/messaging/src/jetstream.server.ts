import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { lastValueFrom, defaultIfEmpty } from 'rxjs';
import { contractFor, deadLetterSubject, SCHEMA_VERSION, type DeadLetter } from '@trainyard/contracts';
import type { ConsumeOptions } from './consume.decorator';
import { describeError, PermanentError } from './errors';
import { JetStreamContext } from './message-context';
import type { NatsBus } from './nats-bus';
import { durableName, ensureDurable } from './provisioning';
import { retryDelayMs } from './retry-delay';
import { extractTraceContext, startConsumerSpan } from './trace-context';

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
    await ensureDurable(this.bus.jsm, this.bus.streamName, {
      durable,
      filterSubject: this.bus.subject(filter),
      maxDeliver,
      ackWaitMs,
      maxAckPending: Math.max(concurrency * 4, 16),
    });
    const consumer = await this.bus.js.consumers.get(this.bus.streamName, durable);
    const messages = await consumer.consume({ max_messages: Math.max(concurrency * 2, 4) });
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
        return await this.deadLetter(m, durable, `malformed JSON: ${describeError(err)}`);
      }
      const parsed = contractFor(pattern).schema.safeParse(data);
      if (!parsed.success) {
        const version = (data as { schemaVersion?: unknown })?.schemaVersion;
        const reason =
          version !== undefined && version !== SCHEMA_VERSION
            ? `unsupported schemaVersion ${JSON.stringify(version)} (this service reads ${SCHEMA_VERSION})`
            : `invalid ${pattern}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
        return await this.deadLetter(m, durable, reason);
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
        await this.deadLetter(m, durable, describeError(err));
      } else if (deliveryCount >= maxDeliver) {
        await this.deadLetter(m, durable, `failed on its last delivery (${deliveryCount}/${maxDeliver}): ${describeError(err)}`);
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

  /** Publishes the original message with the reason to `<prefix>.dlq.<subject>`, then terminates it. */
  private async deadLetter(m: JsMsg, consumer: string, reason: string): Promise<void> {
    const relative = m.subject.startsWith(`${this.bus.options.prefix}.`) ? m.subject.slice(this.bus.options.prefix.length + 1) : m.subject;
    const headers: Record<string, string[]> = {};
    if (m.headers) for (const k of m.headers.keys()) headers[k] = m.headers.values(k);
    const letter: DeadLetter = {
      schemaVersion: SCHEMA_VERSION,
      id: `dlq-${this.bus.streamName}-${m.seq}-${consumer}`,
      occurredAt: new Date().toISOString(),
      subject: m.subject,
      consumer,
      reason,
      deliveryCount: m.info.deliveryCount,
      headers,
      data: m.string(),
    };
    this.logger.error({
      event: 'message_dead_lettered',
      subject: relative,
      seq: m.seq,
      consumer,
      reason,
      deliveryCount: m.info.deliveryCount,
      msg: `dead-lettered ${m.subject} (seq ${m.seq}) for ${consumer}: ${reason}`,
    });
    try {
      await this.bus.publishRaw(this.bus.subject(deadLetterSubject(relative)), JSON.stringify(letter), letter.id, natsHeaders());
      m.term(reason.slice(0, 200));
      this.bus.notifyDeadLetter({ subject: relative, consumer, reason, deliveryCount: m.info.deliveryCount });
    } catch (err) {
      // Without a dead letter on record the message must not vanish: let it come back.
      this.logger.error(`could not dead-letter ${m.subject}: ${describeError(err)}`);
      m.nak(this.bus.options.retryBaseMs ?? 1000);
    }
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
