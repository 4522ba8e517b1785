import type { EventMessage, QueryResponse } from '@trainyard/contracts';
import type { NatsBus } from './nats-bus';
import { QueryError } from './queries';

/** A run's versions with the promoter's decisions, counted whole (a large run's answer lists part of them). */
export type RunModels = QueryResponse<'models.of_run'>;
export type RunVersion = RunModels['versions'][number];

export interface RunDecisionsOptions {
  waitMs: number;
  queryTimeoutMs: number;
  /** Called once when waiting ends with versions still undecided, or when the promoter refuses to say. */
  onIncomplete?: (why: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A completed run's model versions with the promoter's decisions. The promoter decides each version
 * as its job succeeds, so decisions may trail the run's completion: this asks (models.of_run) until
 * as many versions are decided as the run has succeeded jobs — one version per job, whatever the
 * summary keys them by — or `waitMs` pass. Null when there is nothing to wait for, the promoter
 * refuses to answer, or never answers in time.
 */
export async function runDecisions(bus: NatsBus, m: EventMessage<'run.completed'>, opts: RunDecisionsOptions): Promise<RunModels | null> {
  // The count, not by_symbol: a large run's message may carry only part of by_symbol.
  const expected = m.summary.succeeded;
  if (expected === 0) return null;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    let answer: RunModels | null = null;
    try {
      answer = await bus.query('models.of_run', { runId: m.runId }, opts.queryTimeoutMs);
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      if (err.reason !== 'timeout') {
        opts.onIncomplete?.(`promotions unknown (${err.message})`);
        return null;
      }
    }
    const decided = answer?.decided ?? 0;
    if (decided >= expected) return answer;
    if (Date.now() >= deadline) {
      opts.onIncomplete?.(`${expected - decided} of ${expected} versions still undecided`);
      return answer;
    }
    await sleep(1000);
  }
}
