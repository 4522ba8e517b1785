import { z } from 'zod';
import { allContracts } from './subjects';

/** JSON Schema (draft 2020-12) of each event's payload as it travels on the bus. */
export function jsonSchemas(prefix = 'trainyard'): Record<string, object> {
  const out: Record<string, object> = {};
  for (const c of allContracts()) {
    out[c.name] = {
      ...(z.toJSONSchema(c.schema, { io: 'input', unrepresentable: 'any' }) as object),
      title: c.name,
      description: `Payload of ${prefix}.${c.filter}${c.public ? ' (public: other systems may publish it)' : ''}`,
    };
  }
  return out;
}
