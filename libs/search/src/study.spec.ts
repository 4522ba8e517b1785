import { contains, gridSize, parseSpace, type Params } from './space';
import { best, importance, nextTrialNumber, shouldPrune, suggest, type StudyConfig } from './study';
import type { TrialRecord } from './trial';

const space = parseSpace({
  lr: { type: 'float', low: 1e-4, high: 1e-1, log: true, gridPoints: 4 },
  depth: { type: 'int', low: 2, high: 8, step: 2 },
  opt: { type: 'categorical', choices: ['adam', 'sgd'] },
});
const objective = (p: Params) => (Math.log10(p.lr as number) + 2) ** 2 + ((p.depth as number) - 6) ** 2 / 4 + (p.opt === 'adam' ? 0 : 1);

/** The service loop in miniature: suggest, train (with reports and pruning), record. */
function run(study: StudyConfig, trials: number): TrialRecord[] {
  const history: TrialRecord[] = [];
  for (let n = 0; n < trials; n++) {
    const params = suggest(study, history);
    if (!params) break;
    const trial: TrialRecord = { number: nextTrialNumber(history), params, state: 'running', intermediate: [] };
    history.push(trial);
    const final = objective(params);
    for (let step = 0; step < 10 && trial.state === 'running'; step++) {
      trial.intermediate.push([step, final + 2 / (step + 1)]);
      if (shouldPrune({ type: 'median' }, trial, history, study.direction).prune) trial.state = 'pruned';
    }
    if (trial.state === 'running') Object.assign(trial, { state: 'complete', value: final });
  }
  return history;
}

describe('study façade', () => {
  it.each(['tpe', 'random', 'grid'] as const)('runs a %s study end to end with pruning', (sampler) => {
    const history = run({ space, sampler, seed: 5, direction: 'minimize' }, 40);
    expect(history.every((t) => contains(space, t.params))).toBe(true);
    expect(history.some((t) => t.state === 'pruned')).toBe(true);
    const top = best(history, 'minimize')!;
    expect(top.state).toBe('complete');
    expect(top.value).toBe(Math.min(...history.filter((t) => t.state === 'complete').map((t) => t.value!)));
    if (sampler === 'grid') expect(history).toHaveLength(gridSize(space));
  });

  it('gives the same suggestion for the same seed and history', () => {
    const history = run({ space, sampler: 'tpe', seed: 1, direction: 'minimize' }, 25);
    const study: StudyConfig = { space, sampler: 'tpe', seed: 9, direction: 'minimize' };
    const copy = JSON.parse(JSON.stringify(history)) as TrialRecord[];
    expect(suggest(study, copy)).toEqual(suggest(study, history));
    expect(suggest({ ...study, sampler: 'random' }, copy)).toEqual(suggest({ ...study, sampler: 'random' }, history));
    expect(suggest({ ...study, sampler: 'grid' }, copy)).toEqual(suggest({ ...study, sampler: 'grid' }, history));
    expect(suggest(study, history, 30)).not.toEqual(suggest(study, history));
  });

  it('returns null once a grid is used up', () => {
    const history = run({ space, sampler: 'grid', seed: 2, direction: 'maximize' }, 100);
    expect(suggest({ space, sampler: 'grid', seed: 2, direction: 'maximize' }, history)).toBeNull();
  });

  it('validates the study', () => {
    expect(() => suggest({ space, sampler: 'random', seed: 1, direction: 'minimize', samplerOptions: { nStartupTrials: 3 } }, [])).toThrow('only the tpe sampler takes samplerOptions');
    expect(() => suggest({ space: { x: { type: 'float', low: 1, high: 0 } }, sampler: 'random', seed: 1, direction: 'minimize' }, [])).toThrow('low must be less than high');
    expect(() => suggest({ space, sampler: 'random', seed: -1, direction: 'minimize' }, [])).toThrow();
  });

  it('honours tpe samplerOptions', () => {
    const history = run({ space, sampler: 'random', seed: 3, direction: 'minimize' }, 5);
    const tpe: StudyConfig = { space, sampler: 'tpe', seed: 3, direction: 'minimize' };
    expect(suggest(tpe, history)).toEqual(suggest({ ...tpe, sampler: 'random' }, history));
    expect(suggest({ ...tpe, samplerOptions: { nStartupTrials: 5 } }, history)).not.toEqual(suggest({ ...tpe, sampler: 'random' }, history));
  });

  it('picks the best complete trial, lowest number on ties', () => {
    const t = (number: number, value: number | undefined, state: TrialRecord['state'] = 'complete'): TrialRecord => ({ number, params: {}, state, value, intermediate: [] });
    const history = [t(0, 3), t(1, 1), t(2, 1), t(3, 0, 'pruned'), t(4, undefined, 'running'), t(5, NaN)];
    expect(best(history, 'minimize')?.number).toBe(1);
    expect(best(history, 'maximize')?.number).toBe(0);
    expect(best([t(0, undefined, 'failed')], 'maximize')).toBeNull();
  });

  it('reports importance for every parameter', () => {
    const history = run({ space, sampler: 'random', seed: 4, direction: 'minimize' }, 60);
    const imp = importance(space, history);
    expect(Object.keys(imp).sort()).toEqual(['depth', 'lr', 'opt']);
    expect(Object.values(imp).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  });
});
