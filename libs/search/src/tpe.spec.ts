import { sampleRandom } from './random';
import { contains, parseSpace, type Params } from './space';
import { defaultWeights, gamma, splitTrials, suggestTpe } from './tpe';
import type { Direction, TrialRecord } from './trial';

const space = parseSpace({
  lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
  layers: { type: 'int', low: 1, high: 16 },
  opt: { type: 'categorical', choices: ['sgd', 'adam', 'rmsprop', 'adagrad'] },
});
const penalty: Record<string, number> = { sgd: 1, adam: 0, rmsprop: 0.6, adagrad: 0.8 };
/** Minimum 0 at lr = 1e-3, layers = 6, opt = adam. */
const objective = (p: Params) => (Math.log10(p.lr as number) + 3) ** 2 + (((p.layers as number) - 6) / 3) ** 2 + (penalty[p.opt as string] ?? NaN);

function complete(number: number, params: Params, value: number): TrialRecord {
  return { number, params, state: 'complete', value, intermediate: [] };
}

/** Runs a study and returns its history; `sign` flips the objective for maximize. */
function optimise(sampler: 'tpe' | 'random', seed: number, trials: number, direction: Direction = 'minimize'): TrialRecord[] {
  const history: TrialRecord[] = [];
  for (let n = 0; n < trials; n++) {
    const params = sampler === 'tpe' ? suggestTpe({ space, seed, direction, trialNumber: n, history }) : sampleRandom(space, seed, n);
    const value = objective(params);
    history.push(complete(n, params, direction === 'minimize' ? value : -value));
  }
  return history;
}

const bestOf = (h: TrialRecord[]) => Math.min(...h.map((t) => Math.abs(t.value!)));

describe('TPE building blocks (as Optuna)', () => {
  it('splits off gamma(n) = min(ceil(n/10), 25) trials', () => {
    expect([1, 10, 11, 100, 250, 1000].map(gamma)).toEqual([1, 1, 2, 10, 25, 25]);
  });

  it('weights old trials down linearly past 25', () => {
    expect(defaultWeights(0)).toEqual([]);
    expect(defaultWeights(25)).toEqual(new Array(25).fill(1));
    expect(defaultWeights(26)).toEqual([1 / 26, ...new Array(25).fill(1)]);
    const w = defaultWeights(30);
    expect(w.slice(0, 5).map((x) => +x.toFixed(6))).toEqual([1 / 30, 0.275, 0.516667, 0.758333, 1].map((x) => +x.toFixed(6)));
  });

  it('fills "below" with the best complete trials, then the deepest pruned ones', () => {
    const pruned = (number: number, intermediate: [number, number][]): TrialRecord => ({ number, params: {}, state: 'pruned', intermediate });
    const history: TrialRecord[] = [
      complete(0, {}, 5),
      pruned(1, [
        [0, 9],
        [1, 8],
      ]),
      pruned(2, [[0, 1]]),
      complete(3, {}, 2),
      pruned(4, [
        [0, 3],
        [1, 7],
      ]),
      ...Array.from({ length: 6 }, (_, i) => pruned(5 + i, [])),
      { number: 11, params: {}, state: 'failed', intermediate: [] },
      { number: 12, params: {}, state: 'running', intermediate: [] },
    ];
    // 11 finished trials: gamma = 2, both complete ones.
    expect(splitTrials(history, 'minimize').below.map((t) => t.number)).toEqual([0, 3]);
    // Dropping one complete trial leaves a slot for the deepest pruned trial with the better last value.
    const fewerComplete = [...history.slice(1), pruned(13, [])];
    const { below, above } = splitTrials(fewerComplete, 'minimize');
    expect(below.map((t) => t.number)).toEqual([3, 4]);
    expect(above.map((t) => t.number)).toEqual([1, 2, 5, 6, 7, 8, 9, 10, 13]);
    expect(splitTrials(fewerComplete, 'maximize').below.map((t) => t.number)).toEqual([1, 3]);
  });
});

describe('TPE sampler', () => {
  it('samples at random during the startup trials', () => {
    const history = optimise('random', 4, 9);
    expect(suggestTpe({ space, seed: 4, direction: 'minimize', trialNumber: 9, history })).toEqual(sampleRandom(space, 4, 9));
    history.push(complete(9, sampleRandom(space, 4, 9), 1));
    expect(suggestTpe({ space, seed: 4, direction: 'minimize', trialNumber: 10, history })).not.toEqual(sampleRandom(space, 4, 10));
  });

  it('is deterministic in (seed, history, trial number), whatever the row order', () => {
    const history = optimise('random', 6, 40);
    const input = { space, seed: 6, direction: 'minimize' as const, trialNumber: 40, history };
    const first = suggestTpe(input);
    expect(suggestTpe({ ...input, history: [...history].reverse() })).toEqual(first);
    expect(suggestTpe({ ...input, trialNumber: 41 })).not.toEqual(first);
    expect(suggestTpe({ ...input, seed: 7 })).not.toEqual(first);
  });

  it('suggests legal values for steps, log ints and categoricals', () => {
    const mixed = parseSpace({
      wd: { type: 'float', low: 0, high: 0.1, step: 0.005 },
      batch: { type: 'int', low: 16, high: 1024, log: true },
      depth: { type: 'int', low: 2, high: 12, step: 2 },
      act: { type: 'categorical', choices: [true, false, 'auto'] },
    });
    const history = Array.from({ length: 30 }, (_, n) => complete(n, sampleRandom(mixed, 1, n), n % 7));
    for (let n = 30; n < 60; n++) expect(contains(mixed, suggestTpe({ space: mixed, seed: 1, direction: 'maximize', trialNumber: n, history }))).toBe(true);
  });

  it('treats maximize of -f exactly like minimize of f', () => {
    const min = optimise('tpe', 2, 30, 'minimize');
    const max = optimise('tpe', 2, 30, 'maximize');
    expect(max.map((t) => t.params)).toEqual(min.map((t) => t.params));
  });

  it('finds the optimum faster than random search (mean best after 60 trials over 10 seeds)', () => {
    const seeds = Array.from({ length: 10 }, (_, i) => 100 + i);
    const tpe = seeds.map((s) => bestOf(optimise('tpe', s, 60)));
    const random = seeds.map((s) => bestOf(optimise('random', s, 60)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(tpe)).toBeLessThan(0.5 * mean(random));
    expect(tpe.filter((t, i) => t < (random[i] ?? -Infinity)).length).toBeGreaterThanOrEqual(8);
  });
});
