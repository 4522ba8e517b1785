import { fanova } from './importance';
import { sampleRandom } from './random';
import { parseSpace, type Params } from './space';
import type { TrialRecord } from './trial';

const space = parseSpace({
  x: { type: 'float', low: 1e-4, high: 1, log: true },
  y: { type: 'int', low: 0, high: 20 },
  z: { type: 'categorical', choices: ['a', 'b', 'c'] },
});

function history(objective: (p: Params) => number, n = 200): TrialRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const params = sampleRandom(space, 21, i);
    return { number: i, params, state: 'complete', value: objective(params), intermediate: [] };
  });
}

describe('fANOVA importance', () => {
  it('ranks a strong, a weak and an irrelevant parameter', () => {
    // In log space x spans 4 units: variance share ≈ 16·(4²/12) vs 1·(20²/12)/25 → x ≫ y, z none.
    const {
      x = NaN,
      y = NaN,
      z = NaN,
    } = fanova(
      space,
      history((p) => 4 * Math.log10(p.x as number) + (p.y as number) / 5),
    );
    expect(x).toBeGreaterThan(y);
    expect(y).toBeGreaterThan(z);
    expect(x).toBeGreaterThan(0.8);
    expect(y).toBeGreaterThan(0.02);
    expect(z).toBeLessThan(0.02);
    expect(x + y + z).toBeCloseTo(1, 10);
  });

  it('sees a categorical effect', () => {
    const imp = fanova(
      space,
      history((p) => (p.z === 'b' ? 3 : 0) + (p.y as number) / 40),
    );
    expect(imp.z).toBeGreaterThan(0.8);
    expect(imp.x).toBeLessThan(0.03);
  });

  it('is seeded and ignores unfinished trials', () => {
    const h = history((p) => Math.log10(p.x as number) + (p.y as number) / 10, 80);
    const [first, second] = h;
    if (!first || !second) throw new Error('the history is too short');
    const noisy = [...h, { number: 80, params: first.params, state: 'running' as const, intermediate: [] }, { number: 81, params: second.params, state: 'pruned' as const, intermediate: [] }];
    expect(fanova(space, noisy, { seed: 3 })).toEqual(fanova(space, h, { seed: 3 }));
  });

  it('returns zeros when nothing can be learned', () => {
    expect(
      fanova(
        space,
        history(() => 1),
      ),
    ).toEqual({ x: 0, y: 0, z: 0 });
    expect(
      fanova(
        space,
        history((p) => p.y as number, 1),
      ),
    ).toEqual({ x: 0, y: 0, z: 0 });
  });
});
