import { BatchedCalls } from './batched-calls';

/** Batches held open until the spec answers them, so calls can be made while one runs. */
function heldBatches(max?: number) {
  const batches: { items: number[]; answer: () => void; fail: (e: Error) => void }[] = [];
  const calls = new BatchedCalls<number, number>(
    (items) =>
      new Promise((resolve, reject) =>
        batches.push({
          items,
          answer: () => resolve(items.map((i) => i * 10)),
          fail: reject,
        }),
      ),
    { max },
  );
  return { calls, batches };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('BatchedCalls', () => {
  it('runs the calls of one turn of the event loop together once it is over, and the calls made while a batch runs together in the next', async () => {
    const { calls, batches } = heldBatches();
    const first = [calls.call(1), calls.call(2)];
    // The messages read from a socket together are all handled before the batch begins.
    expect(batches).toHaveLength(0);
    await settle();
    expect(batches.map((b) => b.items)).toEqual([[1, 2]]);
    const during = [calls.call(3), calls.call(4), calls.call(5)];
    batches[0]!.answer();
    await expect(Promise.all(first)).resolves.toEqual([10, 20]);
    await settle();
    expect(batches.map((b) => b.items)).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    batches[1]!.answer();
    await expect(Promise.all(during)).resolves.toEqual([30, 40, 50]);
    // Idle again: a call alone runs once the turn it was made in is over.
    const later = calls.call(6);
    await settle();
    expect(batches.map((b) => b.items)).toEqual([[1, 2], [3, 4, 5], [6]]);
    batches[2]!.answer();
    await expect(later).resolves.toBe(60);
  });

  it('puts at most max calls in a batch', async () => {
    const { calls, batches } = heldBatches(2);
    const all = [1, 2, 3, 4, 5].map((i) => calls.call(i));
    for (let i = 0; i < 3; i++) {
      await settle();
      batches[i]!.answer();
    }
    await expect(Promise.all(all)).resolves.toEqual([10, 20, 30, 40, 50]);
    expect(batches.map((b) => b.items)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('puts the first of the calls with one key in a batch, and answers the later ones as repeats once it succeeds', async () => {
    const batches: number[][] = [];
    const calls = new BatchedCalls<number, number | null>(
      async (items) => {
        batches.push(items);
        return items.map((i) => i * 10);
      },
      { key: (i) => String(i % 10), repeated: null },
    );
    const results = await Promise.all([calls.call(1), calls.call(2), calls.call(12), calls.call(3), calls.call(2)]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(results).toEqual([10, 20, null, 30, null]);
  });

  it('runs a failed batch again call by call, so a bad call fails only itself', async () => {
    const calls = new BatchedCalls<number, number>(async (items) => {
      if (items.includes(3)) throw new Error(`bad item among ${items.join(',')}`);
      return items.map((i) => i * 10);
    });
    const gate = calls.call(0);
    const results = await Promise.allSettled([gate, calls.call(2), calls.call(3), calls.call(4)]);
    expect(results).toEqual([
      { status: 'fulfilled', value: 0 },
      { status: 'fulfilled', value: 20 },
      { status: 'rejected', reason: new Error('bad item among 3') },
      { status: 'fulfilled', value: 40 },
    ]);
  });

  it('fails a call alone with its own error, and keeps answering later calls', async () => {
    const { calls, batches } = heldBatches();
    const failing = calls.call(1);
    await settle();
    batches[0]!.fail(new Error('database unavailable'));
    await expect(failing).rejects.toThrow('database unavailable');
    const next = calls.call(2);
    await settle();
    batches[1]!.answer();
    await expect(next).resolves.toBe(20);
  });

  it('fails every call of a failed batch with its error when asked to, running none again', async () => {
    const batches: number[][] = [];
    const calls = new BatchedCalls<number, number>(
      async (items) => {
        batches.push(items);
        throw new Error('no answer in 2000 ms');
      },
      { failTogether: true },
    );
    const results = await Promise.allSettled([calls.call(1), calls.call(2), calls.call(3)]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['no answer in 2000 ms', 'no answer in 2000 ms', 'no answer in 2000 ms']);
  });
});
