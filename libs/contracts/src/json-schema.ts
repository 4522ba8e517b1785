import { z } from 'zod';
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
      description: `Payload of ${prefix}.${c.filter}${c.public ? ' (public: other systems may publish it)' : ''}`,
    };
  }
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
