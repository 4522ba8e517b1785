import { z } from 'zod';

/** A JSON Schema as an OpenAPI document embeds one. */
export type JsonSchema = { properties?: Record<string, unknown> } & Record<string, unknown>;

/** The schema a request is validated with, as the API's document describes it: one source for both. */
export const openApiSchema = (s: z.ZodType): JsonSchema => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as JsonSchema;

/** Query parameters from a query schema, so the document and the validation never disagree. */
export function queryParameters(s: z.ZodType, required: readonly string[] = []) {
  return Object.entries(openApiSchema(s).properties ?? {}).map(([name, p]) => ({ name, in: 'query', required: required.includes(name), schema: p }));
}
