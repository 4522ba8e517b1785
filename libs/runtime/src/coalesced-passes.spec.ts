import { CoalescedPasses } from './coalesced-passes';

/** A pass held open until the spec ends it, so calls can be made while it runs. */
function heldPasses() {
  const started: { key: string; end: (n: number) => void; fail: (e: Error) => void }[] = [];
  const passes = new CoalescedPasses<string, number>((key) => new Promise((end, fail) => started.push({ key, end, fail })));
  return { passes, started };
}

/** Lets every callback already due run (a pass that ended letting the next one start). */
const settle = () => new Promise((r) => setImmediate(r));

describe('CoalescedPasses', () => {
  it('answers the calls of one turn of the event loop with one pass begun once it is over', async () => {
    const { passes, started } = heldPasses();
    const calls = [passes.run('k'), passes.run('k'), passes.run('k')];
    expect(started).toHaveLength(0);
    await settle();
    expect(started).toHaveLength(1);
    started[0]!.end(7);
    await expect(Promise.all(calls)).resolves.toEqual([7, 7, 7]);
    await settle();
    expect(started).toHaveLength(1);
  });

  it('answers every call made during a pass with one pass begun after it ended', async () => {
    const { passes, started } = heldPasses();
    const first = passes.run('k');
    await settle();
    const during = [passes.run('k'), passes.run('k'), passes.run('k')];
    expect(started).toHaveLength(1);
    started[0]!.end(1);
    await expect(first).resolves.toBe(1);
    await settle();
    expect(started).toHaveLength(2);
    // Calls during the second pass wait for a third, not for the second.
    const later = passes.run('k');
    started[1]!.end(2);
    await expect(Promise.all(during)).resolves.toEqual([2, 2, 2]);
    await settle();
    expect(started).toHaveLength(3);
    started[2]!.end(3);
    await expect(later).resolves.toBe(3);
    await settle();
    expect(started).toHaveLength(3);
  });

  it('starts a pass once the turn is over when none is under way, and runs the queued one after a pass that failed', async () => {
    const { passes, started } = heldPasses();
    const first = passes.run('k');
    await settle();
    const queued = passes.run('k');
    started[0]!.fail(new Error('deadlock detected'));
    await expect(first).rejects.toThrow('deadlock detected');
    await settle();
    started[1]!.end(5);
    await expect(queued).resolves.toBe(5);
    await settle();
    const fresh = passes.run('k');
    await settle();
    expect(started).toHaveLength(3);
    started[2]!.end(0);
    await expect(fresh).resolves.toBe(0);
  });

  it('keeps keys apart', async () => {
    const { passes, started } = heldPasses();
    const a = passes.run('a');
    const b = passes.run('b');
    await settle();
    expect(started.map((s) => s.key)).toEqual(['a', 'b']);
    started[1]!.end(2);
    started[0]!.end(1);
    await expect(Promise.all([a, b])).resolves.toEqual([1, 2]);
  });
});
