import { hyperbandBracket, hyperbandBrackets, prune, type PrunerConfig } from './pruners';
import { Rng } from './random';
import type { Direction, Intermediate, TrialRecord, TrialState } from './trial';

function row(number: number, intermediate: Intermediate[], state: TrialState = 'complete'): TrialRecord {
  const last = intermediate[intermediate.length - 1];
  return { number, params: {}, state, value: state === 'complete' ? last?.[1] : undefined, intermediate };
}

const steps = (values: number[], from = 0): Intermediate[] => values.map((v, i) => [from + i, v]);

/**
 * Runs trials one after another, asking after every report as a trainer would. Trial n learns
 * acc(step) = quality[n] · (1 - e^{-(step+1)/8}) plus small noise.
 */
function simulate(pruner: PrunerConfig, qualities: number[], nSteps: number, direction: Direction = 'maximize'): TrialRecord[] {
  const rng = new Rng(17);
  const history: TrialRecord[] = [];
  qualities.forEach((q, number) => {
    const trial: TrialRecord = { number, params: {}, state: 'running', intermediate: [] };
    for (let step = 0; step < nSteps; step++) {
      const acc = q * (1 - Math.exp(-(step + 1) / 8)) + 0.002 * (rng.next() - 0.5);
      trial.intermediate.push([step, direction === 'maximize' ? acc : -acc]);
      if (prune(pruner, trial, history, direction).prune) {
        trial.state = 'pruned';
        break;
      }
    }
    if (trial.state === 'running') Object.assign(trial, { state: 'complete', value: trial.intermediate[nSteps - 1]?.[1] });
    history.push(trial);
  });
  return history;
}

/** 30 qualities in a seeded order, one clearly best. */
const qualities = (() => {
  const rng = new Rng(7);
  const q = Array.from({ length: 30 }, (_, i) => 0.5 + 0.015 * i);
  // i and j = rng.below(i + 1) are both in 0..q.length-1
  for (let i = q.length - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [q[i], q[j]] = [q[j]!, q[i]!];
  }
  return q;
})();

describe('median pruner', () => {
  const median: PrunerConfig = { type: 'median' };

  it.each<Direction>(['maximize', 'minimize'])('stops clearly worse curves early and never the eventual best (%s)', (direction) => {
    const history = simulate(median, qualities, 40, direction);
    const bestQuality = Math.max(...qualities);
    const bestTrial = history[qualities.indexOf(bestQuality)];
    expect(bestTrial?.state).toBe('complete');
    expect(bestTrial?.intermediate).toHaveLength(40);
    // The first 5 trials complete (startup); the median of completed curves only rises after that.
    const startup = qualities.slice(0, 5).sort((x, y) => x - y);
    const [, , startupMedian = NaN] = startup;
    const clearlyWorse = history.slice(5).filter((t) => (qualities[t.number] ?? NaN) < startupMedian - 0.05);
    expect(clearlyWorse.length).toBeGreaterThanOrEqual(5);
    for (const t of clearlyWorse) {
      expect(t.state).toBe('pruned');
      expect(t.intermediate.length).toBeLessThanOrEqual(2);
    }
    const completed = history.filter((t) => t.state === 'complete');
    expect(completed.length).toBeLessThan(20);
  });

  it('waits for n_startup_trials completed trials', () => {
    const done = [0, 1, 2, 3].map((n) => row(n, steps([0.9, 0.9])));
    expect(prune(median, { number: 9, intermediate: steps([0.1]) }, done, 'maximize')).toEqual({ prune: false, reason: 'startup: 4 of 5 trials completed' });
    const five = [...done, row(4, steps([0.9, 0.9]))];
    expect(prune(median, { number: 9, intermediate: steps([0.1]) }, five, 'maximize').prune).toBe(true);
    expect(
      prune(
        median,
        { number: 9, intermediate: steps([0.1]) },
        five.map((t) => ({ ...t, state: 'pruned' as const })),
        'maximize',
      ).prune,
    ).toBe(false);
  });

  it("compares the trial's best value so far with the median at its latest step", () => {
    const done = [0.2, 0.4, 0.6, 0.8, 1.0].map((v, n) => row(n, steps([v, v, v])));
    // Median at step 2 is 0.6: a trial that once reached 0.7 survives a dip to 0.1.
    expect(prune(median, { number: 9, intermediate: steps([0.7, 0.3, 0.1]) }, done, 'maximize').prune).toBe(false);
    expect(prune(median, { number: 9, intermediate: steps([0.5, 0.5, 0.5]) }, done, 'maximize')).toEqual({
      prune: true,
      reason: 'best 0.5 by step 2 vs median 0.6 of 5 completed trials at step 2: worse',
    });
    expect(prune(median, { number: 9, intermediate: steps([0.5, 0.5, 0.5]) }, done, 'minimize').prune).toBe(false);
    expect(prune(median, { number: 9, intermediate: steps([NaN]) }, done, 'maximize').prune).toBe(true);
  });

  it('honours warm-up, interval and n_min_trials', () => {
    const done = [0, 1, 2, 3, 4].map((n) => row(n, steps(new Array(10).fill(1))));
    const bad = (upTo: number) => ({ number: 9, intermediate: steps(new Array(upTo + 1).fill(0)) });
    const cfg: PrunerConfig = { type: 'median', nWarmupSteps: 3, intervalSteps: 2 };
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((s) => prune(cfg, bad(s), done, 'maximize').prune)).toEqual([false, false, false, true, false, true, false, true]);
    // A check step that was skipped is made up at the next report.
    expect(
      prune(
        cfg,
        {
          number: 9,
          intermediate: [
            [2, 0],
            [4, 0],
          ],
        },
        done,
        'maximize',
      ).prune,
    ).toBe(true);
    expect(prune({ type: 'median', nMinTrials: 6 }, bad(3), done, 'maximize').prune).toBe(false);
  });
});

describe('successive halving pruner', () => {
  const sh: PrunerConfig = { type: 'successiveHalving', minResource: 1, reductionFactor: 3 };
  /** Rivals that reported 0.1·k at every step. */
  const rivals = (k: number) => Array.from({ length: k }, (_, n) => row(n, steps(new Array(30).fill((n + 1) / 10))));

  it('judges a trial only when it reaches a rung (steps 1, 3, 9, 27 for min 1, factor 3)', () => {
    const others = rivals(9);
    const judged = Array.from({ length: 28 }, (_, s) => !prune(sh, { number: 20, intermediate: steps(new Array(s + 1).fill(0.05)) }, others, 'maximize').reason.startsWith('step'));
    expect(judged.flatMap((j, s) => (j ? [s] : []))).toEqual([1, 3, 9, 27]);
  });

  it('keeps the top 1/reductionFactor at each rung', () => {
    const others = rivals(8); // with the trial: 9 values, so the top 3 continue
    expect(prune(sh, { number: 20, intermediate: steps([0, 0.65]) }, others, 'maximize')).toEqual({ prune: false, reason: 'promoted past rung 0 (step 1)' });
    expect(prune(sh, { number: 20, intermediate: steps([0, 0.55]) }, others, 'maximize')).toEqual({
      prune: true,
      reason: 'rung 0 (step 1): 0.55 is not in the top 3 of 9 (needs 0.6)',
    });
    expect(prune(sh, { number: 20, intermediate: steps([0, 0.25]) }, others, 'minimize').prune).toBe(false);
    expect(prune(sh, { number: 20, intermediate: steps([0, 0.35]) }, others, 'minimize').prune).toBe(true);
  });

  it('does not revisit a rung already passed, and judges every rung a jump crosses', () => {
    const others = rivals(8);
    expect(
      prune(
        sh,
        {
          number: 20,
          intermediate: [
            [1, 0.7],
            [2, 0.0],
          ],
        },
        others,
        'maximize',
      ).prune,
    ).toBe(false);
    expect(
      prune(
        sh,
        {
          number: 20,
          intermediate: [
            [0, 0.7],
            [10, 0.7],
          ],
        },
        others,
        'maximize',
      ).reason,
    ).toBe('promoted past rung 2 (step 9)');
    // Rivals pruned at rung 0 never reach rung 1, so they are not compared there.
    const shallow = others.map((t) => ({ ...t, state: 'pruned' as const, intermediate: t.intermediate.slice(0, 2) }));
    expect(
      prune(
        sh,
        {
          number: 20,
          intermediate: [
            [1, 0.9],
            [3, 0.05],
          ],
        },
        shallow,
        'maximize',
      ).prune,
    ).toBe(false);
  });

  it('makes the first arrivals be the best so far, and honours bootstrap_count', () => {
    expect(prune(sh, { number: 1, intermediate: steps([0, 0.5]) }, [], 'maximize').prune).toBe(false);
    expect(prune(sh, { number: 1, intermediate: steps([0, 0.05]) }, rivals(1), 'maximize').prune).toBe(true);
    const boot: PrunerConfig = { ...sh, bootstrapCount: 2 };
    expect(prune(boot, { number: 2, intermediate: steps([0, 9]) }, rivals(1), 'maximize').prune).toBe(true);
    expect(prune(boot, { number: 2, intermediate: steps([0, 9]) }, rivals(2), 'maximize').prune).toBe(false);
  });

  it('starts later with min_early_stopping_rate and ignores failed trials', () => {
    const later: PrunerConfig = { ...sh, minEarlyStoppingRate: 1 };
    expect(prune(later, { number: 20, intermediate: steps([0, 0]) }, rivals(8), 'maximize').reason).toBe('step 1 is below rung 0 (step 3)');
    expect(prune(later, { number: 20, intermediate: steps([0, 0, 0, 0]) }, rivals(8), 'maximize').prune).toBe(true);
    const failed = rivals(8).map((t) => ({ ...t, state: 'failed' as const }));
    expect(prune(sh, { number: 20, intermediate: steps([0, 0]) }, failed, 'maximize').prune).toBe(false);
  });

  it('stops the worse two thirds of a simulated study at the first rung', () => {
    const history = simulate({ type: 'successiveHalving', minResource: 2, reductionFactor: 3 }, qualities, 40);
    expect(history[qualities.indexOf(Math.max(...qualities))]?.state).toBe('complete');
    expect(history.filter((t) => t.state === 'pruned').length).toBeGreaterThanOrEqual(15);
  });
});

describe('hyperband pruner', () => {
  const hb = { type: 'hyperband', minResource: 1, maxResource: 81, reductionFactor: 3 } as const;

  it("sizes brackets like Optuna's", () => {
    expect(hyperbandBrackets({ minResource: 1, maxResource: 81, reductionFactor: 3 })).toEqual([81, 34, 15, 8, 5]);
    expect(hyperbandBrackets({ minResource: 1, maxResource: 80, reductionFactor: 3 })).toEqual([27, 12, 6, 4]);
  });

  it('assigns trials to brackets by number, in proportion to their budgets', () => {
    const counts = new Map<number, number>();
    for (let n = 0; n < 14_300; n++) counts.set(hyperbandBracket(hb, n), (counts.get(hyperbandBracket(hb, n)) ?? 0) + 1);
    [81, 34, 15, 8, 5].forEach((b, i) => expect((counts.get(i) ?? 0) / 14_300).toBeCloseTo(b / 143, 1));
  });

  it('runs successive halving inside the bracket only, from its own first rung', () => {
    const inBracket = (b: number, count: number) =>
      Array.from({ length: 400 }, (_, n) => n)
        .filter((n) => hyperbandBracket(hb, n) === b)
        .slice(0, count);
    const [subject, ...peers] = inBracket(2, 9);
    if (subject === undefined) throw new Error('no trial number falls in bracket 2');
    const strangers = inBracket(0, 20);
    const good = (n: number) => row(n, steps(new Array(30).fill(0.9)));
    const history = [...peers.map((n) => row(n, steps(new Array(30).fill(0.1)))), ...strangers.map(good)];
    const at = (upTo: number, v: number) => prune(hb, { number: subject, intermediate: steps(new Array(upTo + 1).fill(v)) }, history, 'maximize');
    expect(at(3, 0).reason).toBe('bracket 2: step 3 is below rung 0 (step 9)');
    expect(at(9, 0.2)).toEqual({ prune: false, reason: 'bracket 2: promoted past rung 0 (step 9)' });
    expect(at(9, 0.05).prune).toBe(true);
  });

  it('validates its configuration', () => {
    expect(() => prune({ type: 'hyperband', minResource: 10, maxResource: 5 }, { number: 0, intermediate: [] }, [], 'maximize')).toThrow('maxResource must be >= minResource');
  });
});
