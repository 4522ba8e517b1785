/**
 * The façade services call. A study is configuration, its history is rows; every function here
 * is pure, so any replica can answer from what PostgreSQL holds.
 */
import { z } from 'zod';
import { suggestGrid } from './grid';
import { fanova, type ImportanceOptions } from './importance';
import { prune, type PruneDecision, type PruneSubject, type PrunerConfig } from './pruners';
import { sampleRandom } from './random';
import { SearchSpace, type Params } from './space';
import { suggestTpe, TpeOptions } from './tpe';
import { better, Direction, isScored, type TrialRecord } from './trial';

export const StudyConfig = z
  .strictObject({
    space: SearchSpace,
    sampler: z.enum(['tpe', 'random', 'grid']),
    seed: z.number().int().min(0).max(0xffffffff),
    direction: Direction,
    samplerOptions: TpeOptions.optional(),
  })
  .refine((s) => s.samplerOptions === undefined || s.sampler === 'tpe', { path: ['samplerOptions'], message: 'only the tpe sampler takes samplerOptions' });
export type StudyConfig = z.input<typeof StudyConfig>;

/** The next trial number: one past the highest in the history. */
export function nextTrialNumber(history: readonly TrialRecord[]): number {
  return history.reduce((n, t) => Math.max(n, t.number + 1), 0);
}

/**
 * Parameters for trial `trialNumber` (default: the next one). Null only when a grid is used up.
 * The same (study, history, trialNumber) always gives the same answer.
 */
export function suggest(study: StudyConfig, history: readonly TrialRecord[], trialNumber = nextTrialNumber(history)): Params | null {
  const s = StudyConfig.parse(study);
  switch (s.sampler) {
    case 'random':
      return sampleRandom(s.space, s.seed, trialNumber);
    case 'grid':
      return suggestGrid(s.space, s.seed, trialNumber, history);
    case 'tpe':
      return suggestTpe({ space: s.space, seed: s.seed, direction: s.direction, trialNumber, history, options: s.samplerOptions });
  }
}

/** Whether a running trial should stop after its latest report. */
export function shouldPrune(pruner: PrunerConfig, trial: PruneSubject, history: readonly TrialRecord[], direction: Direction): PruneDecision {
  return prune(pruner, trial, history, direction);
}

/** The best complete trial (lowest number on ties), or null when none completed. */
export function best(history: readonly TrialRecord[], direction: Direction): TrialRecord | null {
  let top: (TrialRecord & { value: number }) | null = null;
  for (const t of history) {
    if (!isScored(t)) continue;
    if (!top || better(t.value, top.value, direction) || (t.value === top.value && t.number < top.number)) top = t;
  }
  return top;
}

/** fANOVA importance of each parameter over the complete trials (see importance.ts). */
export function importance(space: SearchSpace, history: readonly TrialRecord[], options?: ImportanceOptions): Record<string, number> {
  return fanova(SearchSpace.parse(space), history, options);
}
