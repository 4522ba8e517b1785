import { z } from 'zod';
import { Driver, FeaturesetName, Id, IsoDate, MetricKey, SymbolName, TrainerArg } from '@trainyard/contracts';
import { parseSpace, PrunerConfig, SearchSpace, type Params } from '@trainyard/search';

/** The objectives a trial's final metrics offer, and which way is better. */
export const OBJECTIVES = {
  sharpe: 'maximize',
  directionalHitRate: 'maximize',
  totalReturn: 'maximize',
  r2: 'maximize',
  maxDrawdown: 'minimize',
  mae: 'minimize',
  rmse: 'minimize',
  mape: 'minimize',
} as const;
export type Objective = keyof typeof OBJECTIVES;

/** Params of the built-in trainer a space may search; a command trainer's other params become its arguments. */
const JOB_PARAMS: Record<string, { kind: 'float' | 'int'; min: number; max: number }> = {
  'model.learningRate': { kind: 'float', min: Number.MIN_VALUE, max: 1e6 },
  'model.epochs': { kind: 'int', min: 1, max: 100_000 },
  'model.seed': { kind: 'int', min: -(2 ** 31), max: 2 ** 31 - 1 },
  lookbackCandles: { kind: 'int', min: 200, max: 1_000_000 },
};

/** POST /studies: a symbol, what to search and how; the trials are the study's jobs. */
export const StudyRequest = z
  .object({
    studyId: Id.optional(),
    symbol: SymbolName,
    space: z.unknown(),
    trials: z.number().int().min(1).max(1000),
    parallel: z.number().int().min(1).max(100).default(2),
    sampler: z.enum(['tpe', 'random', 'grid']).default('tpe'),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    pruner: PrunerConfig.default({ type: 'none' }),
    /** The reported metric the pruner follows, step by step (the trainer's progress). */
    pruneMetric: MetricKey.default('validationMetric'),
    objective: z.enum(Object.keys(OBJECTIVES) as [Objective, ...Objective[]]).default('sharpe'),
    direction: z.enum(['maximize', 'minimize']).optional(),
    date: IsoDate.optional(),
    featureset: FeaturesetName.default('fs1'),
    driver: Driver.default({ kind: 'builtin' }),
    timeoutMinutes: z
      .number()
      .positive()
      .max(7 * 24 * 60)
      .optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    let space: SearchSpace;
    try {
      space = parseSpace(r.space);
    } catch (err) {
      for (const issue of (err as { issues?: string[] }).issues ?? [(err as Error).message]) ctx.addIssue({ code: 'custom', path: ['space'], message: issue });
      return;
    }
    for (const [name, spec] of Object.entries(space)) {
      const job = JOB_PARAMS[name];
      if (job) {
        if (spec.type === 'categorical' ? !spec.choices.every((c) => typeof c === 'number') : job.kind === 'int' && spec.type !== 'int') {
          ctx.addIssue({ code: 'custom', path: ['space', name], message: `${name} is ${job.kind === 'int' ? 'a whole number' : 'a number'}` });
        } else if (spec.type !== 'categorical' && (spec.low < job.min || spec.high > job.max)) {
          ctx.addIssue({ code: 'custom', path: ['space', name], message: `${name} must stay within ${job.min}..${job.max}` });
        }
      } else if (r.driver.kind === 'builtin') {
        ctx.addIssue({ code: 'custom', path: ['space', name], message: `the built-in trainer takes ${Object.keys(JOB_PARAMS).join(', ')}; other params are a command trainer's arguments` });
      } else if (!/^[a-z][a-zA-Z0-9_-]{0,39}$/.test(name)) {
        ctx.addIssue({ code: 'custom', path: ['space', name], message: 'a trainer argument name: a lower-case letter, then letters, digits, "_" or "-"' });
      } else if (spec.type === 'categorical' && !spec.choices.every((c) => TrainerArg.safeParse(`--${name}=${c}`).success)) {
        ctx.addIssue({ code: 'custom', path: ['space', name], message: 'each choice must be a valid trainer argument value (letters, digits and _ . , : = + % @ -)' });
      }
    }
  });
export type StudyRequest = z.output<typeof StudyRequest>;

/** A trial's params applied to the job: the built-in trainer's fields, the rest as `--name=value` arguments of a command trainer. */
export function applyParams<D extends { model: Record<string, unknown>; lookbackCandles: number; driver: z.output<typeof Driver> }>(definition: D, params: Params): D {
  const out = { ...definition, model: { ...definition.model }, driver: { ...definition.driver } } as D;
  const args: string[] = [];
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (name.startsWith('model.')) (out.model as Record<string, unknown>)[name.slice(6)] = value;
    else if (name === 'lookbackCandles') out.lookbackCandles = Number(value);
    else args.push(`--${name}=${value}`);
  }
  if (args.length && out.driver.kind === 'command') out.driver = { ...out.driver, args: [...out.driver.args, ...args] };
  return out;
}
