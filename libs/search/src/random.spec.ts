import { deriveSeed, Rng, rngFor, sampleRandom, sampleUniform } from './random';
import { contains, parseSpace } from './space';

const space = parseSpace({
  lr: { type: 'float', low: 1e-5, high: 1, log: true },
  dropout: { type: 'float', low: 0, high: 0.5 },
  wd: { type: 'float', low: 0, high: 0.1, step: 0.025 },
  depth: { type: 'int', low: 2, high: 8, step: 2 },
  batch: { type: 'int', low: 8, high: 512, log: true },
  opt: { type: 'categorical', choices: ['adam', 'sgd', 'lion'] },
});

describe('seeded streams', () => {
  it('replays the same numbers for the same key', () => {
    const a = rngFor(42, 7, 'lr');
    const b = rngFor(42, 7, 'lr');
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 }, () => b.next()));
  });

  it('gives different streams to different seeds, trials and names', () => {
    const seeds = new Set([deriveSeed(1, 0, 'x'), deriveSeed(2, 0, 'x'), deriveSeed(1, 1, 'x'), deriveSeed(1, 0, 'y'), deriveSeed(1, 0), deriveSeed(1)]);
    expect(seeds.size).toBe(6);
  });

  it('draws uniformly in [0, 1)', () => {
    const rng = new Rng(123);
    const draws = Array.from({ length: 20_000 }, () => rng.next());
    expect(draws.every((u) => u >= 0 && u < 1)).toBe(true);
    const bins = new Array<number>(10).fill(0);
    for (const u of draws) bins[Math.floor(u * 10)] = (bins[Math.floor(u * 10)] ?? 0) + 1;
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

describe('random sampler', () => {
  it('suggests legal params that depend only on (seed, trial number)', () => {
    const first = sampleRandom(space, 9, 3);
    expect(contains(space, first)).toBe(true);
    sampleRandom(space, 9, 4);
    expect(sampleRandom(space, 9, 3)).toEqual(first);
    expect(sampleRandom(space, 10, 3)).not.toEqual(first);
  });

  it("keeps a parameter's values when other parameters are added", () => {
    const bigger = parseSpace({ ...space, extra: { type: 'int', low: 0, high: 3 } });
    expect(sampleRandom(bigger, 9, 3).lr).toBe(sampleRandom(space, 9, 3).lr);
  });

  it('is log-uniform on log scales and uniform over lattice points', () => {
    const rng = new Rng(5);
    const { lr, wd: wdSpec } = space;
    if (!lr || !wdSpec) throw new Error('the space lacks lr or wd');
    const lrs: number[] = [];
    const wd = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      lrs.push(sampleUniform(lr, rng) as number);
      const v = sampleUniform(wdSpec, rng) as number;
      wd.set(v, (wd.get(v) ?? 0) + 1);
    }
    const belowMiddle = lrs.filter((x) => x < Math.sqrt(1e-5)).length / lrs.length;
    expect(belowMiddle).toBeGreaterThan(0.45);
    expect(belowMiddle).toBeLessThan(0.55);
    expect([...wd.keys()].sort()).toEqual([0, 0.025, 0.05, 0.075, 0.1]);
    for (const n of wd.values()) expect(Math.abs(n - 800)).toBeLessThan(120);
  });
});
