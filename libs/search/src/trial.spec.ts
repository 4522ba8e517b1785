import { curve, TrialRecord } from './trial';

describe('trial rows', () => {
  it('accept what services store, NaN intermediates included', () => {
    const row = {
      number: 3,
      params: { lr: 0.01, opt: 'adam', bn: true },
      state: 'pruned',
      intermediate: [
        [0, 0.5],
        [1, NaN],
      ],
    };
    expect(TrialRecord.parse(row)).toEqual(row);
  });

  it.each([
    ['a negative trial number', { number: -1 }],
    ['an unknown state', { state: 'waiting' }],
    ['a fractional step', { intermediate: [[0.5, 1]] }],
  ])('reject %s', (_, change) => {
    expect(TrialRecord.safeParse({ number: 0, params: {}, state: 'complete', value: 1, intermediate: [], ...change }).success).toBe(false);
  });

  it('read curves in step order, keeping the first report of a repeated step (as Optuna)', () => {
    expect(
      curve({
        intermediate: [
          [2, 0.3],
          [0, 0.1],
          [2, 0.9],
          [1, 0.2],
        ],
      }),
    ).toEqual([
      [0, 0.1],
      [1, 0.2],
      [2, 0.3],
    ]);
  });
});
