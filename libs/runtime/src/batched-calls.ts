interface QueuedCall<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Calls of one kind answered in batches: one batch runs at a time, and the calls made while it runs
 * go together into the next (at most `max` a batch). A call alone runs at once; under load n calls
 * cost a few batches, one statement each, instead of n. A batch that fails is run again call by
 * call, so that each caller gets its own outcome and a bad call fails only itself.
 */
export class BatchedCalls<I, R> {
  private queued: QueuedCall<I, R>[] = [];
  private running = false;

  /** `batch` answers its items' results in their order. */
  constructor(
    private readonly batch: (items: I[]) => Promise<R[]>,
    private readonly max = 256,
  ) {}

  call(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queued.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queued.length) await this.answer(this.queued.splice(0, this.max));
    } finally {
      this.running = false;
    }
  }

  private async answer(calls: QueuedCall<I, R>[]): Promise<void> {
    try {
      const results = await this.batch(calls.map((c) => c.item));
      calls.forEach((c, i) => c.resolve(results[i]!));
    } catch (err) {
      if (calls.length === 1) return calls[0]!.reject(err);
      for (const c of calls) await this.batch([c.item]).then(([result]) => c.resolve(result!), c.reject);
    }
  }
}
