import { gaussian, mulberry32, seedFromString } from './random';

describe('random', () => {
  it('repeats the same sequence for the same seed and a different one for another seed', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, mulberry32(seed));
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(42).every((u) => u >= 0 && u < 1)).toBe(true);
  });

  it('derives a stable unsigned 32-bit seed from text', () => {
    const seed = seedFromString('BTCUSDT|2024-06-01|7');
    expect(seed).toBe(seedFromString('BTCUSDT|2024-06-01|7'));
    expect(seed).not.toBe(seedFromString('ETHUSDT|2024-06-01|7'));
    expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
  });

  it('samples a standard normal', () => {
    const normal = gaussian(mulberry32(1));
    const xs = Array.from({ length: 20_000 }, normal);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});
