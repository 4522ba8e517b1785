/**
 * Search spaces: what a study may try, as plain JSON-able data validated with zod, plus the
 * lattice and grid helpers the samplers share.
 *
 * Parameter names are always visited in sorted order (see `paramNames`), so nothing here depends
 * on object key order — PostgreSQL jsonb does not keep it.
 */
import { z } from 'zod';

export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const MAX_PARAMS = 32;
export const MAX_CHOICES = 100;
/** gridOf materialises every point; past this, walk the grid with gridPoint instead. */
export const MAX_MATERIALISED_GRID = 1_000_000;
/** The grid sampler's shuffle works on integers up to 2^52. */
export const MAX_GRID_SIZE = 2 ** 52;

/** Relative slack for "is this value on the step lattice", to absorb binary rounding. */
const LATTICE_TOLERANCE = 1e-8;

type Ctx = z.RefinementCtx;

function issue(ctx: Ctx, path: string, message: string): void {
  ctx.addIssue({ code: 'custom', path: [path], message });
}

/** Shared by float and int: ordering, log domain and step divisibility. */
function checkRange(p: { low: number; high: number; log?: boolean; step?: number }, ctx: Ctx): void {
  if (!(p.low < p.high)) return issue(ctx, 'low', `low must be less than high (low=${p.low}, high=${p.high})`);
  if (p.log && p.low <= 0) issue(ctx, 'low', `log scale needs low > 0 (low=${p.low})`);
  if (p.step === undefined) return;
  const span = p.high - p.low;
  const n = span / p.step;
  if (p.step > span) return issue(ctx, 'step', `step ${p.step} is larger than high - low = ${span}`);
  if (Math.abs(n - Math.round(n)) > LATTICE_TOLERANCE * Math.max(1, n)) {
    const fit = p.low + Math.floor(n) * p.step;
    issue(ctx, 'step', `step ${p.step} does not divide high - low = ${span} (high=${clean(fit)} would)`);
  }
}

export const FloatParam = z
  .strictObject({
    type: z.literal('float'),
    low: z.number(),
    high: z.number(),
    log: z.boolean().optional(),
    /** Values are restricted to low + k·step. */
    step: z.number().positive('step must be > 0').optional(),
    /** Only for gridOf/the grid sampler: this many evenly spaced points (geometric when log). */
    gridPoints: z.number().int().min(2).max(10_000).optional(),
  })
  .superRefine((p, ctx) => {
    checkRange(p, ctx);
    if (p.log && p.step !== undefined) issue(ctx, 'step', 'step cannot be combined with log (as in Optuna)');
    if (p.step !== undefined && p.gridPoints !== undefined) issue(ctx, 'gridPoints', 'set either step or gridPoints, not both');
  });

export const IntParam = z
  .strictObject({
    type: z.literal('int'),
    low: z.number().int(),
    high: z.number().int(),
    log: z.boolean().optional(),
    step: z.number().int('step must be an integer').positive('step must be > 0').optional(),
  })
  .superRefine((p, ctx) => {
    if (!Number.isSafeInteger(p.low) || !Number.isSafeInteger(p.high)) return issue(ctx, 'low', 'low and high must be safe integers');
    checkRange(p, ctx);
    if (p.log && p.step !== undefined && p.step !== 1) issue(ctx, 'step', 'log scale needs step 1 (as in Optuna)');
  });

export const CategoricalParam = z
  .strictObject({
    type: z.literal('categorical'),
    choices: z
      .array(z.union([z.string(), z.number(), z.boolean()]))
      .min(1, 'choices needs at least 1 value')
      .max(MAX_CHOICES, `choices allows at most ${MAX_CHOICES} values`),
  })
  .superRefine((p, ctx) => {
    const seen = new Set<string | number | boolean>();
    for (const c of p.choices) {
      if (seen.has(c)) issue(ctx, 'choices', `choices must be unique (${JSON.stringify(c)} repeats)`);
      seen.add(c);
    }
  });

export const ParamSpec = z.discriminatedUnion('type', [FloatParam, IntParam, CategoricalParam]);

/** Key count of a (possibly still invalid) record; count checks run even when some parameter is bad. */
const size = (s: unknown) => (typeof s === 'object' && s !== null ? Object.keys(s).length : undefined);

export const SearchSpace = z
  .record(z.string().regex(PARAM_NAME, `parameter names must match ${PARAM_NAME}`), ParamSpec)
  .refine((s) => (size(s) ?? 1) >= 1, { message: 'a search space needs at least 1 parameter', when: () => true })
  .refine((s) => (size(s) ?? 0) <= MAX_PARAMS, { message: `a search space allows at most ${MAX_PARAMS} parameters`, when: () => true });

export type FloatParam = z.infer<typeof FloatParam>;
export type IntParam = z.infer<typeof IntParam>;
export type CategoricalParam = z.infer<typeof CategoricalParam>;
export type ParamSpec = z.infer<typeof ParamSpec>;
export type SearchSpace = z.infer<typeof SearchSpace>;
export type ParamValue = string | number | boolean;
export type Params = Record<string, ParamValue>;

/** Thrown by parseSpace; `issues` lists "<param>.<field>: <reason>" lines. */
export class SearchSpaceError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid search space: ${issues.join('; ')}`);
    this.name = 'SearchSpaceError';
  }
}

/** One line per zod issue, naming the offending parameter and field. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const where = i.path.map(String).join('.') || '(space)';
    const nested = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
    return `${where}: ${nested ?? i.message}`;
  });
}

export function parseSpace(input: unknown): SearchSpace {
  const r = SearchSpace.safeParse(input);
  if (!r.success) throw new SearchSpaceError(describeIssues(r.error));
  return r.data;
}

export function paramNames(space: SearchSpace): string[] {
  return Object.keys(space).sort();
}

/** The space's parameters with their specs, in `paramNames` order. */
export function paramEntries(space: SearchSpace): Array<[name: string, spec: ParamSpec]> {
  return Object.entries(space).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Drops binary noise (0.30000000000000004 → 0.3) so lattice values store and compare cleanly. */
export function clean(x: number): number {
  return Number.parseFloat(x.toPrecision(15));
}

/** The step of a lattice parameter, or undefined for a continuous float. Ints default to 1. */
export function stepOf(spec: FloatParam | IntParam): number | undefined {
  return spec.type === 'int' ? (spec.step ?? 1) : spec.step;
}

/** Number of lattice points of a stepped parameter. */
export function latticeSize(spec: FloatParam | IntParam, step: number): number {
  return Math.round((spec.high - spec.low) / step) + 1;
}

export function latticeValue(spec: FloatParam | IntParam, step: number, k: number): number {
  return spec.type === 'int' ? spec.low + k * step : clean(spec.low + k * step);
}

/** Nearest lattice point to x, kept inside [low, high]. */
export function snapToLattice(spec: FloatParam | IntParam, step: number, x: number): number {
  const k = Math.min(Math.max(Math.round((x - spec.low) / step), 0), latticeSize(spec, step) - 1);
  return latticeValue(spec, step, k);
}

export function containsValue(spec: ParamSpec, v: unknown): boolean {
  if (spec.type === 'categorical') return spec.choices.some((c) => c === v);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < spec.low || v > spec.high) return false;
  if (spec.type === 'int' && !Number.isInteger(v)) return false;
  const step = stepOf(spec);
  if (step === undefined) return true;
  const k = (v - spec.low) / step;
  return Math.abs(k - Math.round(k)) <= LATTICE_TOLERANCE * Math.max(1, k);
}

/** True when params has exactly the space's parameters, each a legal value. */
export function contains(space: SearchSpace, params: Params): boolean {
  const entries = paramEntries(space);
  if (Object.keys(params).length !== entries.length) return false;
  return entries.every(([n, spec]) => Object.prototype.hasOwnProperty.call(params, n) && containsValue(spec, params[n]));
}

/**
 * The values a parameter takes on the grid: categorical choices in their order; int and stepped
 * float lattices; a float without step needs gridPoints (linear, or geometric when log).
 */
export function gridAxis(name: string, spec: ParamSpec): ParamValue[] {
  if (spec.type === 'categorical') return [...spec.choices];
  const step = stepOf(spec);
  if (step !== undefined) return Array.from({ length: latticeSize(spec, step) }, (_, k) => latticeValue(spec, step, k));
  const n = spec.type === 'float' ? spec.gridPoints : undefined;
  if (n === undefined) throw new Error(`${name}: a float parameter needs step or gridPoints to be gridded`);
  const [lo, hi] = spec.log ? [Math.log(spec.low), Math.log(spec.high)] : [spec.low, spec.high];
  return Array.from({ length: n }, (_, k) => {
    if (k === n - 1) return spec.high;
    const t = lo + ((hi - lo) * k) / (n - 1);
    return k === 0 ? spec.low : clean(spec.log ? Math.exp(t) : t);
  });
}

export function gridAxes(space: SearchSpace): Array<{ name: string; values: ParamValue[] }> {
  return paramEntries(space).map(([name, spec]) => ({ name, values: gridAxis(name, spec) }));
}

/** Number of grid points (product of axis lengths); may exceed Number.MAX_SAFE_INTEGER. */
export function gridSize(space: SearchSpace): number {
  return gridAxes(space).reduce((n, a) => n * a.values.length, 1);
}

/** Point `index` of the grid, in mixed radix over sorted names (the last name varies fastest). */
export function gridPoint(axes: ReturnType<typeof gridAxes>, index: number): Params {
  const out: Params = {};
  let rest = index;
  for (const { name, values } of [...axes].reverse()) {
    const len = values.length;
    // rest is a non-negative integer, so rest % len indexes the axis (gridAxis never returns an empty axis)
    out[name] = values[rest % len]!;
    rest = Math.floor(rest / len);
  }
  return out;
}

/** Inverse of gridPoint; -1 when params is not a grid point (e.g. it came from another sampler). */
export function gridIndex(axes: ReturnType<typeof gridAxes>, params: Params): number {
  let index = 0;
  for (const axis of axes) {
    const v = params[axis.name];
    const k = axis.values.findIndex((a) => a === v || (typeof a === 'number' && typeof v === 'number' && Math.abs(a - v) <= LATTICE_TOLERANCE * Math.max(1, Math.abs(a))));
    if (k < 0) return -1;
    index = index * axis.values.length + k;
  }
  return index;
}

/** Every grid point, in gridPoint order. */
export function gridOf(space: SearchSpace): Params[] {
  const axes = gridAxes(space);
  const size = axes.reduce((n, a) => n * a.values.length, 1);
  if (size > MAX_MATERIALISED_GRID) throw new Error(`grid has ${size} points, more than ${MAX_MATERIALISED_GRID} to list`);
  return Array.from({ length: size }, (_, i) => gridPoint(axes, i));
}
