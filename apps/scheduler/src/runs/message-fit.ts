import type { EventInput } from '@trainyard/contracts';
import { jsonBytes, leadingThatFit } from '@trainyard/messaging';

/**
 * run.planned within `limit` bytes of JSON: whole when it fits; otherwise the first jobs that fit,
 * then the first skipped entries in what is left, with how many of each were left out. The caller
 * has stored the whole plan at `plan.planUri`.
 */
export function fitPlan(plan: EventInput<'run.planned'> & { planUri: string }, limit: number): EventInput<'run.planned'> {
  const whole = { ...plan, planUri: undefined };
  if (jsonBytes(whole) <= limit) return whole;
  // Counted with the largest omissions, so the figures that end up smaller still fit.
  const room = limit - jsonBytes({ ...plan, jobs: [], skipped: [], jobsOmitted: plan.jobs.length, skippedOmitted: plan.skipped.length });
  if (room < 0) throw new Error(`run.planned of ${plan.runId} cannot fit ${limit} bytes even without its jobs`);
  const jobs = leadingThatFit(plan.jobs, room);
  const skipped = leadingThatFit(plan.skipped, room - jobs.bytes);
  return {
    ...plan,
    jobs: plan.jobs.slice(0, jobs.count),
    skipped: plan.skipped.slice(0, skipped.count),
    ...(jobs.count < plan.jobs.length ? { jobsOmitted: plan.jobs.length - jobs.count } : {}),
    ...(skipped.count < plan.skipped.length ? { skippedOmitted: plan.skipped.length - skipped.count } : {}),
  };
}

/**
 * run.completed within `limit` bytes of JSON: whole when it fits; otherwise its summary's by_symbol
 * cut to the first entries that fit, with how many were left out (the stored summary, at
 * `summaryUri`, keeps them all).
 */
export function fitCompletion(message: EventInput<'run.completed'>, limit: number): EventInput<'run.completed'> {
  if (jsonBytes(message) <= limit) return message;
  const entries = Object.entries(message.summary.by_symbol);
  const room = limit - jsonBytes({ ...message, summary: { ...message.summary, by_symbol: {}, by_symbol_omitted: entries.length } });
  if (room < 0) throw new Error(`run.completed of ${message.runId} cannot fit ${limit} bytes even without its outcomes by symbol`);
  // Each entry is counted as its [key, value] pair, two bytes more than `"key":value`, so what is kept fits.
  const kept = leadingThatFit(entries, room).count;
  return {
    ...message,
    summary: { ...message.summary, by_symbol: Object.fromEntries(entries.slice(0, kept)), ...(kept < entries.length ? { by_symbol_omitted: entries.length - kept } : {}) },
  };
}
