import { parseArgs } from 'node:util';
import type { Variant } from '@trainyard/contracts';
import { callApi } from './api-client';
import { UsageError } from './usage-error';
import { MODELS_HELP } from './help';

const OPTIONS = {
  symbol: { type: 'string' },
  stage: { type: 'string' },
  variant: { type: 'string' },
  reason: { type: 'string' },
} as const;

export interface ModelsRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

// The contracts (zod and every schema: most of this command's start-up) are loaded only when a symbol or variant is given.
const contracts = () => import('@trainyard/contracts');

async function symbolArg(value: string | undefined): Promise<string> {
  if (!value) throw new UsageError('a symbol is required, e.g. BTCUSDT');
  if (!(await contracts()).SymbolName.safeParse(value).success) throw new UsageError(`"${value}" is not a symbol (2-30 upper-case letters or digits)`);
  return value;
}

async function variantArg(value: string): Promise<Variant> {
  const { Variant } = await contracts();
  if (!Variant.options.includes(value as Variant)) throw new UsageError(`"${value}" is not a variant: one of ${Variant.options.join(', ')}`);
  return value as Variant;
}

/** `BTCUSDT` or `BTCUSDT/bull` as the API's path and `?variant=` query. */
async function keyArg(value: string | undefined, action: string): Promise<string> {
  const [symbol, variant, ...more] = (value ?? '').split('/');
  if (more.length) throw new UsageError(`"${value}" is not a model: a symbol, or a symbol and a variant (BTCUSDT/bull)`);
  const path = `/models/${await symbolArg(symbol || undefined)}${action}`;
  return variant === undefined || variant === 'default' ? path : `${path}?variant=${await variantArg(variant)}`;
}

function versionArg(value: string | undefined, required: boolean): number | undefined {
  if (value === undefined) {
    if (required) throw new UsageError('a version number is required');
    return undefined;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`the version must be a whole number from 1 (got "${value}")`);
  return n;
}

/** `trainyard models …` as the promoter API request it stands for. */
export async function parseModelsCommand(argv: string[]): Promise<ModelsRequest> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${MODELS_HELP}`);
  }
  const [action, ...rest] = parsed.positionals;
  const v = parsed.values;
  switch (action) {
    case 'list': {
      if (v.stage && !['candidate', 'production', 'archived'].includes(v.stage)) throw new UsageError(`--stage must be one of candidate, production, archived (got "${v.stage}")`);
      const q = new URLSearchParams();
      const [symbol, keyVariant] = (v.symbol ?? '').split('/');
      if (keyVariant !== undefined && v.variant !== undefined) throw new UsageError('give the variant once: --symbol BTCUSDT/bull or --variant bull');
      if (symbol) q.set('symbol', await symbolArg(symbol));
      const variant = keyVariant ?? v.variant;
      if (variant !== undefined) q.set('variant', await variantArg(variant));
      if (v.stage) q.set('stage', v.stage);
      return { method: 'GET', path: `/models${q.size ? `?${q}` : ''}` };
    }
    case 'show':
      return { method: 'GET', path: await keyArg(rest[0], `/${versionArg(rest[1], true)}`) };
    case 'promote':
      return { method: 'POST', path: await keyArg(rest[0], '/promote'), body: { version: versionArg(rest[1], true), ...(v.reason ? { reason: v.reason } : {}) } };
    case 'rollback': {
      const version = versionArg(rest[1], false);
      return { method: 'POST', path: await keyArg(rest[0], '/rollback'), body: { ...(version ? { version } : {}), ...(v.reason ? { reason: v.reason } : {}) } };
    }
    default:
      throw new UsageError(`unknown models command "${action ?? ''}"; use list, show, promote or rollback\n\n${MODELS_HELP}`);
  }
}

/** Sends the request; the promoter's refusal (400, 404, 409) comes back as an error with its message. */
export async function runModelsCommand(req: ModelsRequest, baseUrl: string, token?: string): Promise<unknown> {
  return (await callApi({ service: 'promoter', baseUrl, token }, req.method, req.path, req.body)).json();
}
