import { contains, gridAxes, gridIndex, gridOf, gridPoint, gridSize, parseSpace, SearchSpace, SearchSpaceError, type Params } from './space';

function issuesOf(input: unknown): string[] {
  try {
    parseSpace(input);
  } catch (e) {
    if (e instanceof SearchSpaceError) return e.issues;
    throw e;
  }
  throw new Error('expected the space to be rejected');
}

describe('search space validation', () => {
  it('accepts every parameter kind', () => {
    const space = parseSpace({
      lr: { type: 'float', low: 1e-5, high: 0.1, log: true },
      dropout: { type: 'float', low: 0, high: 0.5, step: 0.1 },
      layers: { type: 'int', low: 1, high: 9, step: 2 },
      batch: { type: 'int', low: 16, high: 512, log: true },
      'optim.name': { type: 'categorical', choices: ['adam', 'sgd', 1, true] },
    });
    expect(Object.keys(space)).toHaveLength(5);
  });

  it.each(
    (
      [
        [{ x: { type: 'float', low: 1, high: 1 } }, 'x.low: low must be less than high (low=1, high=1)'],
        [{ x: { type: 'float', low: 0, high: 1, log: true } }, 'x.low: log scale needs low > 0 (low=0)'],
        [{ x: { type: 'int', low: -3, high: 8, log: true } }, 'x.low: log scale needs low > 0 (low=-3)'],
        [{ x: { type: 'float', low: 0, high: 1, step: 0.3 } }, 'x.step: step 0.3 does not divide high - low = 1 (high=0.9 would)'],
        [{ x: { type: 'float', low: 0, high: 1, step: 2 } }, 'x.step: step 2 is larger than high - low = 1'],
        [{ x: { type: 'float', low: 0, high: 1, step: -0.1 } }, 'x.step: step must be > 0'],
        [{ x: { type: 'int', low: 0, high: 10, step: 3 } }, 'x.step: step 3 does not divide high - low = 10 (high=9 would)'],
        [{ x: { type: 'int', low: 0.5, high: 10 } }, 'x.low: Invalid input: expected int, received number'],
        [{ x: { type: 'int', low: 1, high: 64, log: true, step: 2 } }, 'x.step: log scale needs step 1 (as in Optuna)'],
        [{ x: { type: 'float', low: 1, high: 10, log: true, step: 1 } }, 'x.step: step cannot be combined with log (as in Optuna)'],
        [{ x: { type: 'float', low: 0, high: 1, step: 0.5, gridPoints: 3 } }, 'x.gridPoints: set either step or gridPoints, not both'],
        [{ x: { type: 'categorical', choices: [] } }, 'x.choices: choices needs at least 1 value'],
        [{ x: { type: 'categorical', choices: ['a', 'b', 'a'] } }, 'x.choices: choices must be unique ("a" repeats)'],
        [{ x: { type: 'categorical', choices: Array.from({ length: 101 }, (_, i) => i) } }, 'x.choices: choices allows at most 100 values'],
        [{ '9lives': { type: 'int', low: 0, high: 1 } }, '9lives: parameter names must match /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/'],
        [{ x: { type: 'float', low: 0, high: 1, extra: 1 } }, 'x: Unrecognized key: "extra"'],
        [{}, '(space): a search space needs at least 1 parameter'],
      ] as Array<[unknown, string]>
    ).map(([input, message]) => ({ input, message })),
  )('rejects with "$message"', ({ input, message }) => {
    expect(issuesOf(input)).toContain(message);
  });

  it('rejects more than 32 parameters', () => {
    const input = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, { type: 'int', low: 0, high: 1 }]));
    expect(issuesOf(input)).toEqual(['(space): a search space allows at most 32 parameters']);
  });

  it('reports every bad parameter at once', () => {
    const issues = issuesOf({ a: { type: 'float', low: 2, high: 1 }, b: { type: 'categorical', choices: [] }, c: { type: 'bool' } });
    expect(issues).toHaveLength(3);
    expect(issues[2]).toMatch(/^c\.type: /);
  });
});

describe('contains', () => {
  const space = parseSpace({
    lr: { type: 'float', low: 1e-4, high: 1, log: true },
    wd: { type: 'float', low: 0, high: 0.1, step: 0.01 },
    depth: { type: 'int', low: 2, high: 10, step: 2 },
    opt: { type: 'categorical', choices: ['adam', 1, false] },
  });
  const ok: Params = { lr: 0.01, wd: 0.07, depth: 6, opt: false };

  it('accepts legal values, including binary-rounded lattice points', () => {
    expect(contains(space, ok)).toBe(true);
    expect(contains(space, { ...ok, wd: 0.1 + 0.2 - 0.23 })).toBe(true);
  });

  it.each([
    ['out of range', { lr: 2 }],
    ['off the float lattice', { wd: 0.015 }],
    ['off the int lattice', { depth: 5 }],
    ['not an integer', { depth: 4.5 }],
    ['not a choice', { opt: 'sgd' }],
    ['a choice of the wrong type', { opt: '1' }],
    ['NaN', { lr: NaN }],
    ['a missing parameter', { lr: undefined }],
    ['an extra parameter', { extra: 1 }],
  ])('rejects %s', (_, change) => {
    const params = { ...ok, ...change } as Params;
    for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
    expect(contains(space, params)).toBe(false);
  });
});

describe('grid', () => {
  it('enumerates steps, gridPoints (geometric when log) and choices', () => {
    const space = parseSpace({
      wd: { type: 'float', low: 0, high: 0.3, step: 0.1 },
      lr: { type: 'float', low: 1e-3, high: 1e-1, log: true, gridPoints: 3 },
      n: { type: 'int', low: 1, high: 5, step: 2 },
      act: { type: 'categorical', choices: ['relu', 'gelu'] },
    });
    const axes = Object.fromEntries(gridAxes(space).map((a) => [a.name, a.values]));
    expect(axes).toEqual({ act: ['relu', 'gelu'], lr: [0.001, 0.01, 0.1], n: [1, 3, 5], wd: [0, 0.1, 0.2, 0.3] });
    expect(gridSize(space)).toBe(2 * 3 * 3 * 4);
    const points = gridOf(space);
    expect(points).toHaveLength(72);
    expect(new Set(points.map((p) => JSON.stringify(p))).size).toBe(72);
    expect(points.every((p) => contains(space, p))).toBe(true);
  });

  it('maps grid indices to points and back', () => {
    const axes = gridAxes(parseSpace({ a: { type: 'int', low: 0, high: 3 }, b: { type: 'categorical', choices: [true, false] } }));
    for (let i = 0; i < 8; i++) expect(gridIndex(axes, gridPoint(axes, i))).toBe(i);
    expect(gridIndex(axes, { a: 7, b: true })).toBe(-1);
  });

  it('needs step or gridPoints for continuous floats', () => {
    expect(() => gridSize(parseSpace({ lr: { type: 'float', low: 0, high: 1 } }))).toThrow('lr: a float parameter needs step or gridPoints to be gridded');
  });

  it('does not depend on key order', () => {
    const a = SearchSpace.parse({ x: { type: 'int', low: 0, high: 2 }, y: { type: 'categorical', choices: ['p', 'q'] } });
    const b = SearchSpace.parse({ y: { type: 'categorical', choices: ['p', 'q'] }, x: { type: 'int', low: 0, high: 2 } });
    expect(gridOf(a)).toEqual(gridOf(b));
  });
});
