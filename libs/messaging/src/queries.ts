import { Logger } from '@nestjs/common';
import { headers as natsHeaders, RequestError, TimeoutError, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { queryFor, QueryReply, querySubject, type QueryName, type QueryRequest, type QueryRequestInput, type QueryResponse, type QueryResponseInput } from '@trainyard/contracts';
import { DEFAULT_MAX_PAYLOAD } from './dead-letter';
import { describeError } from './errors';
import { extractTraceContext, injectTraceContext } from './trace-context';

/** A query that got no answer (nobody answers, or not in time) or a refusal; the message says which. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly reason: 'no_responders' | 'timeout' | 'refused' | 'invalid',
  ) {
    super(message);
    this.name = 'QueryError';
  }

  /** Nobody answered: the answering service is down or busy, not the question wrong. */
  get unanswered(): boolean {
    return this.reason === 'no_responders' || this.reason === 'timeout';
  }
}

const issues = (error: { issues: { path: PropertyKey[]; message: string }[] }) => error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');

const tracer = () => trace.getTracer('trainyard-messaging');

/** Asks and waits for the answer, validated against the query's response schema. */
export async function requestQuery<N extends QueryName>(nc: NatsConnection, prefix: string, name: N, input: QueryRequestInput<N>, timeoutMs: number): Promise<QueryResponse<N>> {
  const q = queryFor(name);
  const request = q.request.safeParse(input);
  if (!request.success) throw new QueryError(`invalid ${name} request: ${issues(request.error)}`, 'invalid');
  const subject = querySubject(prefix, name);
  const span = tracer().startSpan(`request ${subject}`, { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } });
  try {
    const h = natsHeaders();
    injectTraceContext(h, trace.setSpan(context.active(), span));
    let msg: Msg;
    try {
      msg = await nc.request(subject, JSON.stringify(request.data), { timeout: timeoutMs, headers: h });
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) throw new QueryError(`the ${q.answeredBy} does not answer ${name} (is it running?)`, 'no_responders');
      if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) {
        throw new QueryError(`the ${q.answeredBy} did not answer ${name} within ${Math.round(timeoutMs / 100) / 10} s`, 'timeout');
      }
      throw new QueryError(`${name} failed: ${describeError(err)}`, 'timeout');
    }
    const reply = QueryReply.safeParse(safeJson(msg.string()));
    if (!reply.success) throw new QueryError(`the ${q.answeredBy} sent a malformed answer to ${name}`, 'invalid');
    if (!reply.data.ok) throw new QueryError(`the ${q.answeredBy} refused ${name}: ${reply.data.error}`, 'refused');
    const result = q.response.safeParse(reply.data.result);
    if (!result.success) throw new QueryError(`the ${q.answeredBy}'s answer to ${name} breaks its schema: ${issues(result.error)}`, 'invalid');
    return result.data as QueryResponse<N>;
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(err) });
    throw err;
  } finally {
    span.end();
  }
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

export type QueryHandler<N extends QueryName> = (request: QueryRequest<N>) => Promise<QueryResponseInput<N>>;

/**
 * Answers a query in a queue group, so replicas of a service share the questions; resolves once the
 * server has the subscription. A request that
 * breaks its schema, or a handler that throws, gets `{ok: false, error}`; an answer that breaks the
 * response schema is refused here rather than sent.
 */
export async function answerQuery<N extends QueryName>(nc: NatsConnection, prefix: string, queue: string, name: N, handler: QueryHandler<N>): Promise<Subscription> {
  const q = queryFor(name);
  const log = new Logger(`Query ${name}`);
  const subject = querySubject(prefix, name);
  const sub = nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) return log.warn(`subscription ended: ${describeError(err)}`);
      const span = tracer().startSpan(
        `answer ${subject}`,
        { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } },
        extractTraceContext(msg.headers),
      );
      const respond = (answer: QueryReply) => {
        let reply = answer;
        let body = JSON.stringify(reply);
        // The client throws on a message over the server's max_payload: the asker would only time out.
        const limit = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
        if (Buffer.byteLength(body) > limit) {
          reply = { ok: false, error: `the answer is ${Buffer.byteLength(body)} bytes, over the ${limit} the bus takes (a bug, logged)` };
          log.error(reply.error);
          body = JSON.stringify(reply);
        }
        if (!reply.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error });
        span.end();
        try {
          msg.respond(body);
        } catch (err) {
          log.warn(`could not answer: ${describeError(err)}`);
        }
      };
      const request = q.request.safeParse(safeJson(msg.string()));
      if (!request.success) return respond({ ok: false, error: `invalid request: ${issues(request.error)}` });
      void context
        .with(trace.setSpan(context.active(), span), () => handler(request.data as QueryRequest<N>))
        .then(
          (answer) => {
            const result = q.response.safeParse(answer);
            if (result.success) return respond({ ok: true, result: result.data });
            log.error(`answer breaks the response schema: ${issues(result.error)}`);
            respond({ ok: false, error: 'the answer broke its schema (a bug, logged)' });
          },
          (failure: unknown) => respond({ ok: false, error: failure instanceof Error ? failure.message : String(failure) }),
        );
    },
  });
  // Resolves once the server has the subscription: a question asked right after gets an answer.
  await nc.flush();
  return sub;
}
