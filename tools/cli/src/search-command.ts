import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Id, MetricKey, SymbolName } from '@trainyard/contracts';
import { callApi } from './api-client';
import { UsageError } from './usage-error';
import { SEARCH_HELP } from './help';

const OPTIONS = {
  space: { type: 'string' },
  trials: { type: 'string' },
  parallel: { type: 'string' },
  sampler: { type: 'string' },
  pruner: { type: 'string' },
  'max-resource': { type: 'string' },
  objective: { type: 'string' },
  direction: { type: 'string' },
  'prune-metric': { type: 'string' },
  seed: { type: 'string' },
  'study-id': { type: 'string' },
  featureset: { type: 'string' },
  trainer: { type: 'string' },
  'history-png': { type: 'string' },
  'importance-png': { type: 'string' },
  dry: { type: 'boolean' },
} as const;

export interface SearchRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  charts?: { path: string; file: string }[];
}

function whole(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max} (got "${value.slice(0, 20)}")`);
  return n;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')} (got "${value.slice(0, 40)}")`);
  return value as T;
}

function studyArg(value: string | undefined): string {
  if (!value || !Id.safeParse(value).success) throw new UsageError(`a study id is required (letters, digits, "_" or "-"), got "${(value ?? '').slice(0, 40)}"`);
  return value;
}

/** `trainyard search …` as the scheduler API request it stands for; the space file is read here, never by a service. */
export function parseSearchCommand(argv: string[], readSpace: (path: string) => string = (p) => readFileSync(p, 'utf8')): SearchRequest {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${SEARCH_HELP}`);
  }
  const [first, ...rest] = parsed.positionals;
  const v = parsed.values;
  if (first === 'list') return { method: 'GET', path: '/studies' };
  if (first === 'show') {
    const id = studyArg(rest[0]);
    const charts = [
      ...(v['history-png'] ? [{ path: `/studies/${id}/history.png`, file: v['history-png'] }] : []),
      ...(v['importance-png'] ? [{ path: `/studies/${id}/importance.png`, file: v['importance-png'] }] : []),
    ];
    return { method: 'GET', path: `/studies/${id}`, ...(charts.length ? { charts } : {}) };
  }
  if (first === 'promote-best') return { method: 'POST', path: `/studies/${studyArg(rest[0])}/promote-best`, body: { promote: v.dry ? 'dry' : 'auto' } };
  if (!first || !SymbolName.safeParse(first).success) throw new UsageError(`"${(first ?? '').slice(0, 40)}" is neither a symbol (e.g. BTCUSDT) nor list, show or promote-best\n\n${SEARCH_HELP}`);
  if (!v.space) throw new UsageError('--space FILE is required: the search space as JSON');
  let space: unknown;
  try {
    space = JSON.parse(readSpace(v.space));
  } catch (err) {
    throw new UsageError(`--space ${v.space.slice(0, 80)}: not a readable JSON file (${(err as Error).message.slice(0, 120)})`);
  }
  const trials = whole(v.trials, '--trials', 1, 1000);
  if (trials === undefined) throw new UsageError('--trials N is required');
  const prunerName = oneOf(v.pruner, '--pruner', ['none', 'median', 'successive-halving', 'hyperband'] as const) ?? 'none';
  const maxResource = whole(v['max-resource'], '--max-resource', 1, 1_000_000);
  if (prunerName === 'hyperband' && maxResource === undefined) throw new UsageError('--pruner hyperband needs --max-resource N (the last step a trial reports)');
  const pruner =
    prunerName === 'median'
      ? { type: 'median' }
      : prunerName === 'successive-halving'
        ? { type: 'successiveHalving' }
        : prunerName === 'hyperband'
          ? { type: 'hyperband', maxResource }
          : { type: 'none' };
  const pruneMetric = v['prune-metric'];
  if (pruneMetric !== undefined && !MetricKey.safeParse(pruneMetric).success) throw new UsageError(`--prune-metric: "${pruneMetric.slice(0, 40)}" is not a metric name`);
  const body = {
    symbol: first,
    space,
    trials,
    ...(v.parallel ? { parallel: whole(v.parallel, '--parallel', 1, 100) } : {}),
    ...(v.sampler ? { sampler: oneOf(v.sampler, '--sampler', ['tpe', 'random', 'grid'] as const) } : {}),
    pruner,
    ...(pruneMetric ? { pruneMetric } : {}),
    ...(v.objective ? { objective: oneOf(v.objective, '--objective', ['sharpe', 'directionalHitRate', 'totalReturn', 'r2', 'maxDrawdown', 'mae', 'rmse', 'mape'] as const) } : {}),
    ...(v.direction ? { direction: oneOf(v.direction, '--direction', ['maximize', 'minimize'] as const) } : {}),
    ...(v.seed ? { seed: whole(v.seed, '--seed', 0, 0xffffffff) } : {}),
    ...(v['study-id'] ? { studyId: studyArg(v['study-id']) } : {}),
    ...(v.featureset ? { featureset: v.featureset } : {}),
    ...(v.trainer ? { driver: { kind: 'command', trainer: v.trainer, args: [] } } : {}),
  };
  return { method: 'POST', path: '/studies', body };
}

/** Sends the request (and fetches the charts asked for); the scheduler's refusal comes back as an error with its message. */
export async function runSearchCommand(req: SearchRequest, baseUrl: string, token?: string): Promise<unknown> {
  const api = { service: 'scheduler' as const, baseUrl, token };
  const answer = (await callApi(api, req.method, req.path, req.body)).json();
  for (const chart of req.charts ?? []) await writeFile(chart.file, (await callApi(api, 'GET', chart.path)).body);
  return answer;
}
