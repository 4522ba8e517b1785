import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { MetricKey, Purpose, SymbolName } from '@trainyard/contracts';
import { exportToFileStore, type TrackedRun } from '@trainyard/tracking';
import { callApi } from './api-client';
import { UsageError } from './usage-error';
import { EXPERIMENTS_HELP } from './help';

const OPTIONS = {
  symbol: { type: 'string' },
  purpose: { type: 'string' },
  status: { type: 'string' },
  run: { type: 'string' },
  metric: { type: 'string' },
  png: { type: 'string' },
  mlflow: { type: 'string' },
} as const;

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}-a\d{1,6}$/;

export type ExperimentsRequest = { kind: 'get'; path: string; png?: string } | { kind: 'export'; runs: string[]; dir: string };

function runArg(value: string | undefined): string {
  if (!value) throw new UsageError('a tracked run id is required, e.g. daily-20261130-BTCUSDT-a1');
  if (!RUN_ID.test(value)) throw new UsageError(`"${value.slice(0, 80)}" is not a tracked run id (<jobId>-a<attempt>)`);
  return value;
}

/** `trainyard experiments …` as the scheduler API request it stands for (or the export it makes). */
export function parseExperimentsCommand(argv: string[]): ExperimentsRequest {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${EXPERIMENTS_HELP}`);
  }
  const [action, ...rest] = parsed.positionals;
  const v = parsed.values;
  switch (action) {
    case 'list': {
      const q = new URLSearchParams();
      if (v.symbol) q.set('symbol', check(SymbolName, v.symbol, '--symbol'));
      if (v.purpose) q.set('purpose', check(Purpose, v.purpose, '--purpose'));
      if (v.status) {
        if (!['running', 'finished', 'failed', 'killed'].includes(v.status)) throw new UsageError(`--status must be one of running, finished, failed, killed (got "${v.status.slice(0, 40)}")`);
        q.set('status', v.status);
      }
      if (v.run) q.set('runId', v.run);
      return { kind: 'get', path: `/experiments/runs${q.size ? `?${q}` : ''}` };
    }
    case 'show':
      return { kind: 'get', path: `/experiments/runs/${runArg(rest[0])}` };
    case 'compare': {
      const runs = rest.map(runArg);
      if (runs.length < 2 || runs.length > 10) throw new UsageError('compare takes 2 to 10 runs');
      const q = new URLSearchParams({ runs: runs.join(','), metric: v.metric ? check(MetricKey, v.metric, '--metric') : 'loss' });
      return v.png ? { kind: 'get', path: `/experiments/compare.png?${q}`, png: v.png } : { kind: 'get', path: `/experiments/compare?${q}` };
    }
    case 'export': {
      if (!v.mlflow) throw new UsageError('export needs --mlflow DIR');
      if (rest.length === 0) throw new UsageError('name the runs to export');
      return { kind: 'export', runs: rest.map(runArg), dir: v.mlflow };
    }
    default:
      throw new UsageError(`unknown experiments command "${(action ?? '').slice(0, 40)}"; use list, show, compare or export\n\n${EXPERIMENTS_HELP}`);
  }
}

function check(schema: { safeParse: (v: unknown) => { success: boolean } }, value: string, flag: string): string {
  if (!schema.safeParse(value).success) throw new UsageError(`${flag}: "${value.slice(0, 40)}" is not valid`);
  return value;
}

/** Runs the request: the API's answer, the chart written to its file, or the runs exported to the MLflow file store. */
export async function runExperimentsCommand(req: ExperimentsRequest, baseUrl: string, token?: string): Promise<unknown> {
  const get = (path: string) => callApi({ service: 'scheduler', baseUrl, token }, 'GET', path);
  if (req.kind === 'export') {
    const runs = await Promise.all(req.runs.map(async (id) => (await get(`/experiments/runs/${id}/export`)).json() as TrackedRun));
    const byExperiment = new Map<string, TrackedRun[]>();
    for (const r of runs) byExperiment.set(r.experimentName, [...(byExperiment.get(r.experimentName) ?? []), r]);
    return exportToFileStore(
      req.dir,
      [...byExperiment].map(([name, list]) => ({ name, runs: list })),
      { storeRoot: true },
    );
  }
  const res = await get(req.path);
  if (req.png) {
    await writeFile(req.png, res.body);
    return { wrote: req.png };
  }
  return res.json();
}
