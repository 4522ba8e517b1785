/**
 * Passes of some work, one at a time per key, with calls coalesced: every call made while a pass of
 * its key is under way is answered by the one pass queued after it. A caller waits for a pass that
 * begins after its call, so that pass sees every change made before the call, and for no later one,
 * however busy the key stays. A pass begins once the event loop's current turn is over, so the calls
 * of the messages that arrived together share it; a burst of n calls costs one or two passes, not n.
 */
export class CoalescedPasses<K, T> {
  private readonly passes = new Map<K, { begun: boolean; current: Promise<T>; next?: Promise<T> }>();

  /** What `pass` answers is given to every caller it served. */
  constructor(private readonly pass: (key: K) => Promise<T>) {}

  run(key: K): Promise<T> {
    const passes = this.passes.get(key);
    if (!passes) return this.start(key);
    // Not begun yet: it will see this call's changes.
    if (!passes.begun) return passes.current;
    passes.next ??= passes.current.then(
      () => this.start(key),
      () => this.start(key),
    );
    return passes.next;
  }

  private start(key: K): Promise<T> {
    const passes: { begun: boolean; current: Promise<T>; next?: Promise<T> } = {
      begun: false,
      current: new Promise<void>((turnOver) => setImmediate(turnOver)).then(() => {
        passes.begun = true;
        return this.pass(key);
      }),
    };
    this.passes.set(key, passes);
    // Attached before any follow-up is: when the pass ends, this sees whether one was asked for.
    const done = () => {
      if (this.passes.get(key) === passes && !passes.next) this.passes.delete(key);
    };
    passes.current.then(done, done);
    return passes.current;
  }
}
