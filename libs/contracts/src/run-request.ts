import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256Hex } from './canonical-json';
import { JobDefinition, JobSpec } from './job-spec';
import { Costs, type Specialist } from './primitives';
import { z } from 'zod';
import { RunRequested } from './events';

export type RunRequest = z.output<typeof RunRequested>;

/**
 * The fields of two requests for one run id that differ, in a sentence's order; empty when they ask
 * for the same run. Who asked, how and when (envelope, trigger, requestedBy) do not count: a retried
 * request is the same run, a reused id with other symbols or settings is refused.
 */
export function requestDifferences(stored: RunRequest, incoming: RunRequest): string[] {
  const a = stored as Record<string, unknown>;
  const b = incoming as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !NOT_THE_REQUEST.has(k) && canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null)).sort();
}

const NOT_THE_REQUEST = new Set(['schemaVersion', 'id', 'occurredAt', 'trigger', 'requestedBy', 'runId']);

/** A new run's id where the requester names none: where it came from, when (UTC, to the second), and 6 random hex digits. */
export const newRunId = (origin: 'cli' | 'api' | 'tg', now: Date) => `${origin}-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;

/** The daily run's id derives from its data date, so a second trigger of the same day is the same run. */
export const dailyRunId = (date: string) => `daily-${date.replaceAll('-', '')}`;

/** Yesterday in UTC, the default data date of a run. */
export function defaultDataDate(now: Date): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1));
  return d.toISOString().slice(0, 10);
}

/** A specialist's job id ends in its variant; a plain job's id is what it always was. */
export const jobIdFor = (runId: string, symbol: string, variant?: Specialist) => (variant ? `${runId}-${symbol}-${variant}` : `${runId}-${symbol}`);

export function specHash(def: JobDefinition): string {
  return sha256Hex(canonicalJson(def));
}

/**
 * What makes two trainings the same, whatever run asked for them: the resume ledger's key. Unlike
 * the spec hash it leaves out the run, the job id, how the job is scheduled, and whether it stores
 * its features (ensureFeatures): none of those change the model.
 */
export function trainingHash(def: JobDefinition): string {
  const { symbol, date, featureset, timeframe, lookbackCandles, model, costs, driver, variant } = def;
  // A specialist trains on other candles than the plain model; the plain model's hash stays as it was.
  return sha256Hex(canonicalJson({ symbol, date, featureset, timeframe, lookbackCandles, model, costs, driver, ...(variant ? { variant } : {}) }));
}

export interface AttemptContext {
  resumeFrom?: JobSpec['resumeFrom'];
  /** The checkpoints before resumeFrom, newest first. */
  earlierCheckpoints?: JobSpec['earlierCheckpoints'];
  /** Earlier attempts of the job that ran out of memory. */
  oomFailures?: number;
}

export function toJobSpec(def: JobDefinition, attempt: number, ctx: AttemptContext = {}): JobSpec {
  const oom = ctx.oomFailures ?? 0;
  return {
    ...def,
    specHash: specHash(def),
    attempt,
    ...(ctx.resumeFrom ? { resumeFrom: ctx.resumeFrom } : {}),
    ...(ctx.resumeFrom && ctx.earlierCheckpoints?.length ? { earlierCheckpoints: ctx.earlierCheckpoints } : {}),
    ...(oom > 0 ? { batchSizeFactor: 0.5 ** oom } : {}),
  };
}

export const DEFAULT_COSTS: Costs = { feeBps: 10, spreadBps: 2 };
