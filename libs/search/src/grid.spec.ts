import { Shuffle, suggestGrid } from './grid';
import { gridOf, parseSpace, type Params } from './space';
import { byNumber, type TrialRecord, type TrialState } from './trial';

const space = parseSpace({
  lr: { type: 'float', low: 1e-3, high: 1e-1, log: true, gridPoints: 3 },
  depth: { type: 'int', low: 2, high: 6, step: 2 },
  opt: { type: 'categorical', choices: ['adam', 'sgd'] },
});
const size = 18;
const key = (p: Params) => JSON.stringify(p, Object.keys(p).sort());

function trial(number: number, params: Params, state: TrialState = 'complete'): TrialRecord {
  return { number, params, state, value: state === 'complete' ? number : undefined, intermediate: [] };
}

/** Runs trials one at a time; `stateOf` decides how each ends. */
function runGrid(seed: number, history: TrialRecord[], until: number, stateOf: (n: number) => TrialState = () => 'complete'): TrialRecord[] {
  for (let n = history.length; n < until; n++) {
    const params = suggestGrid(space, seed, n, history);
    if (!params) break;
    history.push(trial(n, params, stateOf(n)));
  }
  return history;
}

describe('Shuffle', () => {
  it.each([1, 2, 3, 17, 1000, 4099])('is a permutation of [0, %d)', (n) => {
    const s = new Shuffle(n, 11);
    const seen = new Set(Array.from({ length: n }, (_, k) => s.at(k)));
    expect(seen.size).toBe(n);
    expect(Math.max(...seen)).toBe(n - 1);
  });

  it('depends on the seed', () => {
    const order = (seed: number) => Array.from({ length: 50 }, (_, k) => new Shuffle(50, seed).at(k));
    expect(order(1)).not.toEqual(order(2));
    expect(order(1)).toEqual(order(1));
  });
});

describe('grid sampler', () => {
  it('covers the grid exactly once, then reports exhaustion', () => {
    const history = runGrid(3, [], size);
    expect(new Set(history.map((t) => key(t.params)))).toEqual(new Set(gridOf(space).map(key)));
    expect(suggestGrid(space, 3, size, history)).toBeNull();
  });

  it('gives the same sequence when resumed mid-way from history (in any row order)', () => {
    const straight = runGrid(3, [], size).map((t) => key(t.params));
    const firstHalf = runGrid(3, [], 7);
    const resumed = byNumber(runGrid(3, firstHalf.map((t) => ({ ...t })).reverse(), size)).map((t) => key(t.params));
    expect(resumed).toEqual(straight);
  });

  it('skips points held by running trials and gives concurrent trials different points', () => {
    const history = runGrid(5, [], 4);
    history.push(trial(4, suggestGrid(space, 5, 4, history)!, 'running'));
    const a = suggestGrid(space, 5, 5, history)!;
    const b = suggestGrid(space, 5, 6, history)!;
    expect(key(a)).not.toBe(key(b));
    expect(history.map((t) => key(t.params))).not.toContain(key(a));
    expect(history.map((t) => key(t.params))).not.toContain(key(b));
    history.push(trial(5, a, 'running'), trial(6, b, 'running'));
    runGrid(5, history, 100);
    expect(history).toHaveLength(size);
    expect(new Set(history.map((t) => key(t.params))).size).toBe(size);
  });

  it('retries the points of failed trials', () => {
    const history = runGrid(8, [], 100, (n) => (n % 5 === 2 ? 'failed' : 'complete'));
    const done = history.filter((t) => t.state === 'complete');
    expect(new Set(done.map((t) => key(t.params))).size).toBe(size);
    expect(done).toHaveLength(size);
  });

  it('orders points by seed', () => {
    expect(runGrid(1, [], 6).map((t) => key(t.params))).not.toEqual(runGrid(2, [], 6).map((t) => key(t.params)));
  });
});
