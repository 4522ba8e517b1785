interface QueuedCall<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

export interface BatchedCallsOptions<I, R> {
  /** Most calls in one batch. */
  max?: number;
  /**
   * Calls with the same key in one batch are one change: only the first goes into the batch, and the
   * later ones are answered with `repeated` once it succeeds (as each would be, run after the first).
   */
  key?: (item: I) => string;
  repeated?: R;
  /**
   * A failed batch fails each of its calls with its error instead of running them again one by one:
   * for questions, where one call alone would fail as the batch did, only later.
   */
  failTogether?: boolean;
}

/**
 * Calls of one kind answered in batches: one batch runs at a time, and the calls made while it runs
 * go together into the next. A batch begins once the event loop's current turn is over, so the calls
 * of the messages that arrived together (one read of a socket) are one batch rather than a call alone
 * and then the rest; under load n calls cost a few batches, one statement each, instead of n. A
 * batch that fails is run again call by call, so that each caller gets its own outcome and a bad call
 * fails only itself.
 */
export class BatchedCalls<I, R> {
  private queued: QueuedCall<I, R>[] = [];
  private running = false;

  /** `batch` answers its items' results in their order. */
  constructor(
    private readonly batch: (items: I[]) => Promise<R[]>,
    private readonly options: BatchedCallsOptions<I, R> = {},
  ) {}

  call(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued.length) await this.answer(this.queued.splice(0, this.options.max ?? 256));
    } finally {
      this.running = false;
    }
  }

  private async answer(calls: QueuedCall<I, R>[]): Promise<void> {
    const { firsts, repeats } = this.split(calls);
    try {
      const results = await this.batch(firsts.map((c) => c.item));
      firsts.forEach((c, i) => c.resolve(results[i]!));
      for (const c of repeats) c.resolve(this.options.repeated as R);
    } catch (err) {
      if (calls.length === 1 || this.options.failTogether) {
        for (const c of calls) c.reject(err);
        return;
      }
      for (const c of calls) await this.batch([c.item]).then(([result]) => c.resolve(result!), c.reject);
    }
  }

  private split(calls: QueuedCall<I, R>[]): { firsts: QueuedCall<I, R>[]; repeats: QueuedCall<I, R>[] } {
    const key = this.options.key;
    if (!key) return { firsts: calls, repeats: [] };
    const seen = new Set<string>();
    const firsts: QueuedCall<I, R>[] = [];
    const repeats: QueuedCall<I, R>[] = [];
    for (const c of calls) {
      const k = key(c.item);
      (seen.has(k) ? repeats : firsts).push(c);
      seen.add(k);
    }
    return { firsts, repeats };
  }
}

/** The key of one attempt's events (BatchedCallsOptions.key): the first of each in a batch is applied. */
export const attemptKey = (a: { jobId: string; attempt: number }) => `${a.jobId}#${a.attempt}`;

/** A batch's rows in job order, so that two batches touching the same jobs lock their rows in the same order rather than deadlock. */
export const inJobOrder = <T extends { jobId: string }>(items: T[]): T[] => [...items].sort((a, b) => (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
