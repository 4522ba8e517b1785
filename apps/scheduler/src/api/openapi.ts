import { openApiSchema, queryParameters } from '@trainyard/runtime';
import { RunSummary } from '@trainyard/contracts';
import { CancelBody, ListJobsQuery, ListRunsQuery, StartRunBody, StatsQuery } from './api-schemas';
import { CompareQuery, ListTrackedRunsQuery } from '../tracking/experiments-api.schemas';
import { StudyRequest } from '../studies/study-request';

const idParameter = (what: string) => ({ name: 'id', in: 'path', required: true, description: `the ${what} id`, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$' } });
const trackedRunParameter = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'the tracked run: <jobId>-a<attempt>',
  schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,127}-a\\d{1,6}$' },
};
const metricParameter = { name: 'key', in: 'path', required: true, description: 'a metric name (URL-encoded)', schema: { type: 'string', pattern: '^[A-Za-z0-9_.\\-/ ]{1,250}$' } };
const problem = { description: 'refused: the message says why; for a bad body or query `issues` lists each field and reason' };
const json = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });

const WORK = "work cost: the leases of its jobs, each at its GPU price for the attempt's seconds";
const SPEND =
  "spend: its share of what the GPU provider billed for the instances destroyed so far (compute while running, storage while they existed; boot, idle tail and failed instances included), from the broker's instance.destroyed";

/** GET /runs/{id}: the stored run, its job counts, its work cost and its spend. */
const runResponse = {
  description: 'the run',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          status: { type: 'string' },
          jobCounts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'its jobs by status' },
          cost: { type: 'number', description: `${WORK}, so far` },
          spend: { type: 'number', description: SPEND },
          summary: {
            anyOf: [openApiSchema(RunSummary), { type: 'null' }],
            description: `the engine summary once the run completed: its \`cost\` is the ${WORK}; its \`spend\` the ${SPEND}, updated as later instances go`,
          },
        },
        required: ['id', 'status', 'jobCounts', 'cost', 'spend', 'summary'],
      },
    },
  },
};

/** OpenAPI 3.1 document of the scheduler's REST API, derived from the schemas that validate requests. */
export function openApiDocument() {
  return {
    openapi: '3.1.0',
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token of API_READ_TOKENS (GET only) or API_OPERATOR_TOKENS (everything); 401 without one, 403 for a read token on a change' },
      },
    },
    security: [{ bearer: [] }],
    info: { title: 'Trainyard scheduler', version: '1', description: 'Runs and jobs: start, inspect, cancel, retry, statistics; tracked runs (every attempt) by experiment.' },
    paths: {
      '/runs': {
        post: {
          summary: 'Request a run (published as trainyard.run.requested)',
          requestBody: { required: true, content: { 'application/json': { schema: openApiSchema(StartRunBody) } } },
          responses: { '202': json('accepted; poll the location'), '400': problem },
        },
        get: { summary: 'List runs, newest first', parameters: queryParameters(ListRunsQuery), responses: { '200': json('a page of runs'), '400': problem } },
      },
      '/runs/{id}': { get: { summary: 'A run with its job counts, work cost, spend and summary', parameters: [idParameter('run')], responses: { '200': runResponse, '404': problem } } },
      '/runs/{id}/cancel': {
        post: {
          summary: 'Cancel every unfinished job of a run',
          parameters: [idParameter('run')],
          requestBody: { content: { 'application/json': { schema: openApiSchema(CancelBody) } } },
          responses: { '202': json('cancelling'), '404': problem },
        },
      },
      '/jobs': { get: { summary: 'List jobs', parameters: queryParameters(ListJobsQuery), responses: { '200': json('a page of jobs'), '400': problem } } },
      '/jobs/{id}': { get: { summary: 'A job with its attempts', parameters: [idParameter('job')], responses: { '200': json('the job'), '404': problem } } },
      '/jobs/{id}/logs': { get: { summary: "Each attempt's outcome and the log its agent saved", parameters: [idParameter('job')], responses: { '200': json('attempts with logs'), '404': problem } } },
      '/jobs/{id}/progress': { get: { summary: 'The latest progress of a job', parameters: [idParameter('job')], responses: { '200': json('progress'), '404': problem } } },
      '/jobs/{id}/cancel': {
        post: {
          summary: 'Cancel a job (stopped on its agent if running)',
          parameters: [idParameter('job')],
          requestBody: { content: { 'application/json': { schema: openApiSchema(CancelBody) } } },
          responses: { '202': json('cancelling'), '404': problem, '409': problem },
        },
      },
      '/jobs/{id}/retry': { post: { summary: 'Retry a failed or cancelled job', parameters: [idParameter('job')], responses: { '202': json('queued again'), '404': problem, '409': problem } } },
      '/stats': { get: { summary: 'Jobs by status, train minutes, success rate per date', parameters: queryParameters(StatsQuery), responses: { '200': json('statistics'), '400': problem } } },
      '/experiments': { get: { summary: 'Experiments (a symbol and a purpose) with how many tracked runs each holds', responses: { '200': json('experiments') } } },
      '/experiments/runs': { get: { summary: 'Tracked runs, newest first', parameters: queryParameters(ListTrackedRunsQuery), responses: { '200': json('a page of tracked runs'), '400': problem } } },
      '/experiments/runs/{id}': {
        get: {
          summary: 'A tracked run: params, tags, code version, final metrics, artifacts, log key, metric names, MLflow mirror state',
          parameters: [trackedRunParameter],
          responses: { '200': json('the run'), '400': problem, '404': problem },
        },
      },
      '/experiments/runs/{id}/metrics/{key}': {
        get: { summary: "A metric's series over steps", parameters: [trackedRunParameter, metricParameter], responses: { '200': json('the points'), '400': problem, '404': problem } },
      },
      '/experiments/runs/{id}/export': {
        get: {
          summary: 'The run as MLflow holds one (what `trainyard experiments export --mlflow` writes)',
          parameters: [trackedRunParameter],
          responses: { '200': json('the run'), '400': problem, '404': problem },
        },
      },
      '/experiments/compare': {
        get: {
          summary: 'Runs side by side: params that differ, final metrics, a metric over steps',
          parameters: queryParameters(CompareQuery),
          responses: { '200': json('the comparison'), '400': problem, '404': problem },
        },
      },
      '/experiments/compare.png': {
        get: {
          summary: 'The compared metric over steps, one line per run',
          parameters: queryParameters(CompareQuery),
          responses: { '200': { description: 'a PNG chart', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } }, '400': problem, '404': problem },
        },
      },
      '/studies': {
        post: {
          summary: 'Start a hyperparameter study: its trials are low-priority search jobs on the shared fleet (201; the same studyId and request again is the same study, another request 409)',
          requestBody: { required: true, content: { 'application/json': { schema: openApiSchema(StudyRequest) } } },
          responses: { '201': json('the study'), '400': problem, '409': problem },
        },
        get: {
          summary: 'Studies, newest first',
          parameters: [
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500 } },
            { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
          ],
          responses: { '200': json('studies'), '400': problem },
        },
      },
      '/studies/{id}': {
        get: { summary: 'A study: trials, best trial, optimisation history, parameter importance', parameters: [idParameter('study')], responses: { '200': json('the study'), '404': problem } },
      },
      '/studies/{id}/history.png': {
        get: {
          summary: "Each trial's value and the best so far, as a PNG",
          parameters: [idParameter('study')],
          responses: { '200': { description: 'a PNG chart', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } }, '404': problem },
        },
      },
      '/studies/{id}/importance.png': {
        get: {
          summary: 'Parameter importance as a PNG',
          parameters: [idParameter('study')],
          responses: { '200': { description: 'a PNG chart', content: { 'image/png': { schema: { type: 'string', format: 'binary' } } } }, '404': problem },
        },
      },
      '/studies/{id}/promote-best': {
        post: {
          summary: "Train the best trial's params as a production run (`<id>-best`) the promoter judges",
          parameters: [idParameter('study')],
          requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { promote: { enum: ['auto', 'dry'], default: 'auto' } }, additionalProperties: false } } } },
          responses: { '202': json('the run requested'), '404': problem, '409': problem },
        },
      },
      '/retention/run': {
        post: {
          summary: "Run retention now (it also runs daily at SCHEDULER_RETENTION_AT): logs, failed runs' series, expired jobs and runs",
          responses: { '200': json('what was deleted and how many bytes freed') },
        },
      },
      '/retention/passes': { get: { summary: 'The last 30 daily retention passes and what each freed', responses: { '200': json('passes, newest first') } } },
    },
  };
}
