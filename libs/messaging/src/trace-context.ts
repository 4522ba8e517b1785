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
