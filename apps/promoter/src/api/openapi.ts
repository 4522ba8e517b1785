import type { z } from 'zod';
import { openApiSchema, queryParameters } from '@trainyard/runtime';
import { CompareQuery, ListModelsQuery, PromoteBody, RollbackBody, VariantQuery } from './api-schemas';

const symbolParameter = { name: 'symbol', in: 'path', required: true, description: 'the market symbol', schema: { type: 'string', pattern: '^[A-Z0-9]{2,30}$' } };
const versionParameter = { name: 'version', in: 'path', required: true, description: 'the version number, per symbol and variant', schema: { type: 'integer', minimum: 1 } };
/** A regime specialist's registry (`?variant=bull`) is apart from the plain model's (`default`). */
const variantParameters = queryParameters(VariantQuery);
const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'a key of your own for this change: a call retried with it (after a timeout or a 5xx) answers with what the first did instead of changing production again',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' },
};
const problem = { description: 'refused: the message says why; for a bad body or query `issues` lists each field and reason' };
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const body = (s: z.ZodType, required: boolean) => ({ required, content: { 'application/json': { schema: openApiSchema(s) } } });

/** OpenAPI 3.1 document of the promoter's REST API, derived from the schemas that validate requests. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token of API_READ_TOKENS (GET only) or API_OPERATOR_TOKENS (everything); 401 without one, 403 for a read token on a change' },
      },
    },
    security: [{ bearer: [] }],
    info: { title: 'Trainyard promoter', version: '1', description: 'The model registry: versions, decisions, comparison, rollback, manual promotion, retention.' },
    paths: {
      '/models': { get: { summary: 'List model versions, newest first', parameters: queryParameters(ListModelsQuery), responses: { '200': json('a page of versions'), '400': problem } } },
      '/models/{symbol}/{version}': {
        get: {
          summary: 'A version with its decision history',
          parameters: [symbolParameter, versionParameter, ...variantParameters],
          responses: { '200': json('the version'), '400': problem, '404': problem },
        },
      },
      '/models/{symbol}/compare': {
        get: {
          summary: "Two versions' metrics side by side, with b − a",
          parameters: [symbolParameter, ...queryParameters(CompareQuery, ['a', 'b'])],
          responses: { '200': json('the comparison'), '400': problem, '404': problem },
        },
      },
      '/models/{symbol}/rollback': {
        post: {
          summary: 'Put an earlier version back into production (without a version: the previous production one); publishes model.rolled_back',
          parameters: [symbolParameter, ...variantParameters, idempotencyKeyParameter],
          requestBody: body(RollbackBody, false),
          responses: { '200': json('the version now in production'), '400': problem, '404': problem, '409': problem },
        },
      },
      '/models/{symbol}/promote': {
        post: {
          summary: 'Put a chosen version into production by hand; publishes model.promoted',
          parameters: [symbolParameter, ...variantParameters, idempotencyKeyParameter],
          requestBody: body(PromoteBody, true),
          responses: { '200': json('the version now in production'), '400': problem, '404': problem, '409': problem },
        },
      },
      '/retention/run': { post: { summary: 'Run retention now and return its report', responses: { '200': json('bytes used, quota, what was pruned, archived and deleted') } } },
    },
  };
}
