import { walkForwardSplit } from './split';

describe('walkForwardSplit', () => {
  it('splits 70/15/15 in time order, disjoint and complete', () => {
    const { train, validation, test } = walkForwardSplit(1000);
    expect([train.length, validation.length, test.length]).toEqual([700, 150, 150]);
    const all = [...train, ...validation, ...test];
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Math.max(...train)).toBeLessThan(Math.min(...validation));
    expect(Math.max(...validation)).toBeLessThan(Math.min(...test));
  });

  it('takes other fractions', () => {
    const { train, validation, test } = walkForwardSplit(100, { train: 0.5, validation: 0.25 });
    expect([train.length, validation.length, test.length]).toEqual([50, 25, 25]);
  });

  it('refuses splits that leave a block empty', () => {
    expect(() => walkForwardSplit(3)).toThrow(/too few/);
    expect(() => walkForwardSplit(100, { train: 0.9, validation: 0.1 })).toThrow(/fractions/);
  });
});
