/**
 * A study's history as the services store it: plain rows, handed to every decision function.
 * Trial numbers are dense per study (0, 1, 2, …), like Optuna's.
 */
import { z } from 'zod';

export const Direction = z.enum(['maximize', 'minimize']);
export type Direction = z.infer<typeof Direction>;

export const TrialState = z.enum(['complete', 'pruned', 'failed', 'running']);
export type TrialState = z.infer<typeof TrialState>;

/** One row of a study's history. Intermediate values are [step, value]: steps are non-negative integers (epochs, rounds), values may be NaN. */
export const TrialRecord = z.strictObject({
  number: z.number().int().min(0),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  state: TrialState,
  /** The objective, for complete trials. */
  value: z.number().optional(),
  intermediate: z.array(z.tuple([z.number().int().min(0), z.number().or(z.nan())])),
});
export type TrialRecord = z.infer<typeof TrialRecord>;
export type Intermediate = TrialRecord['intermediate'][number];

/** True when a beats b in this direction (NaN never wins). */
export function better(a: number, b: number, direction: Direction): boolean {
  return direction === 'maximize' ? a > b : a < b;
}

/** Complete trials with a finite objective: the ones that count as results. */
export function isScored(t: TrialRecord): t is TrialRecord & { value: number } {
  return t.state === 'complete' && typeof t.value === 'number' && Number.isFinite(t.value);
}

/** Intermediate values by ascending step; a repeated step keeps its first report, as Optuna does. */
export function curve(t: Pick<TrialRecord, 'intermediate'>): Intermediate[] {
  const seen = new Map<number, number>();
  for (const [step, value] of t.intermediate) if (!seen.has(step)) seen.set(step, value);
  return [...seen.entries()].sort((x, y) => x[0] - y[0]);
}

export function byNumber<T extends { number: number }>(trials: readonly T[]): T[] {
  return [...trials].sort((a, b) => a.number - b.number);
}
