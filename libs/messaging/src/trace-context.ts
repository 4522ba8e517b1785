import { context, propagation, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import type { MsgHdrs } from '@nats-io/nats-core';

const tracer = () => trace.getTracer('trainyard-messaging');

/** W3C trace context into NATS headers, so the consumer's span joins the producer's trace. */
export function injectTraceContext(h: MsgHdrs, ctx: Context = context.active()): void {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const [k, v] of Object.entries(carrier)) h.set(k, v);
}

export function extractTraceContext(h: MsgHdrs | undefined): Context {
  const carrier: Record<string, string> = {};
  if (h) for (const k of h.keys()) carrier[k.toLowerCase()] = h.get(k);
  return propagation.extract(context.active(), carrier);
}

export function startProducerSpan(subject: string): Span {
  return tracer().startSpan(`publish ${subject}`, {
    kind: SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject, 'messaging.operation.type': 'publish' },
  });
}

export function startConsumerSpan(subject: string, parent: Context, consumer: string): Span {
  return tracer().startSpan(
    `process ${subject}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': subject,
        'messaging.consumer.group.name': consumer,
        'messaging.operation.type': 'process',
      },
    },
    parent,
  );
}

/** The active trace context as a plain carrier, to store beside a record and continue its trace later. */
export function captureTraceContext(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * Runs `fn` inside a stored trace context, so work started from a timer (a retry, a reconcile)
 * joins the trace of the record it acts for instead of starting a new one.
 */
export function withTraceContext<T>(carrier: Record<string, string> | null | undefined, fn: () => T): T {
  if (!carrier || Object.keys(carrier).length === 0) return fn();
  return context.with(propagation.extract(context.active(), carrier), fn);
}
