import { z } from 'zod';
import { DeadLetter } from './events';
import { allQueries, querySubject } from './queries';
import { allContracts } from './subjects';

const toJsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as object;

/** JSON Schema (draft 2020-12) of each event's payload as it travels on the bus. */
export function jsonSchemas(prefix = 'trainyard'): Record<string, object> {
  const out: Record<string, object> = {};
  for (const c of allContracts()) {
    out[c.name] = {
      ...toJsonSchema(c.schema),
      title: c.name,
      description:
        `Payload of ${prefix}.${c.filter}${c.public ? ' (public: other systems may publish it)' : ''}. ` +
        `The subject is <prefix>.${c.filter}, where <prefix> is the installation's TRAINYARD_PREFIX (default ${prefix}); ` +
        `the message's id is also its Nats-Msg-Id header, so a publish repeated within 10 minutes is stored once.`,
      'x-subject': `<prefix>.${c.filter}`,
    };
  }
  out['dead-letter'] = {
    ...toJsonSchema(DeadLetter),
    title: 'dead letter',
    description:
      `Payload of <prefix>.dlq.<subject without the prefix> (e.g. ${prefix}.dlq.run.requested): a message a service refused or could not handle, ` +
      'written once, with the reason; the original payload is in data (only its beginning when truncated).',
    'x-subject': '<prefix>.dlq.>',
  };
  return out;
}

/** JSON Schema of each query's request and of the `result` of its answer. */
export function queryJsonSchemas(prefix = 'trainyard'): Record<string, object> {
  const out: Record<string, object> = {};
  for (const q of allQueries()) {
    const subject = querySubject(prefix, q.name);
    out[`${q.name}.request`] = { ...toJsonSchema(q.request), title: `${q.name} request`, description: `Request on ${subject}, answered by the ${q.answeredBy}` };
    out[`${q.name}.response`] = {
      ...toJsonSchema(q.response),
      title: `${q.name} response`,
      description: `The result of {"ok": true, "result": …} on ${subject}; a refusal is {"ok": false, "error": "…"}`,
    };
  }
  return out;
}
