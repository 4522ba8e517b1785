import { erfc, logGaussMass, logNdtr, ndtr, ndtri, truncnormPpf } from './truncnorm';

describe('normal numerics', () => {
  it.each([
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [5, 1.5374597944280349e-12],
    [-1, 1.8427007929497148],
  ])('erfc(%d)', (x, expected) => {
    expect(erfc(x) / expected - 1).toBeCloseTo(0, 12);
  });

  it('inverts the CDF', () => {
    for (const p of [1e-200, 1e-10, 0.01, 0.3, 0.5, 0.9, 0.999]) expect(ndtr(ndtri(p)) / p - 1).toBeCloseTo(0, 10);
    expect(ndtri(0.975)).toBeCloseTo(1.959963984540054, 12);
  });

  it('keeps log masses finite far in the tails', () => {
    expect(logNdtr(-40)).toBeCloseTo(-804.6084420137538, 6);
    expect(logGaussMass(-1, 1)).toBeCloseTo(Math.log(0.6826894921370859), 12);
    expect(logGaussMass(30, 31)).toBeCloseTo(logGaussMass(-31, -30), 12);
    expect(Number.isFinite(logGaussMass(50, 51))).toBe(true);
  });

  it('samples the truncated normal with the right mean', () => {
    let sum = 0;
    for (let i = 0; i < 10_000; i++) sum += truncnormPpf((i + 0.5) / 10_000, -0.5, 2);
    const phi = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
    expect(sum / 10_000).toBeCloseTo((phi(-0.5) - phi(2)) / (ndtr(2) - ndtr(-0.5)), 4);
    expect(truncnormPpf(0.999, 1, 1.5)).toBeLessThanOrEqual(1.5);
    expect(truncnormPpf(0.001, 1, 1.5)).toBeGreaterThanOrEqual(1);
  });
});
