import type { Metrics } from '@trainyard/contracts';
import { decidePromotion, effectivePolicy, type Evaluated, type PromotionInput } from './promotion-rules';

const metrics = (directionalHitRate: number, maxDrawdown: number): Metrics => ({
  directionalHitRate,
  sharpe: 1,
  maxDrawdown,
  totalReturn: 0.1,
  mae: 0.01,
  rmse: 0.02,
  mape: 1.5,
  r2: 0.1,
});

const model = (hitRate: number, drawdown: number, over: Partial<Evaluated> = {}): Evaluated => ({
  metrics: metrics(hitRate, drawdown),
  costs: { feeBps: 10, spreadBps: 2 },
  evaluationWindow: { candles: 400 },
  ...over,
});

const input = (over: Partial<PromotionInput>): PromotionInput => ({
  requested: 'auto',
  canary: false,
  dryOnly: false,
  candidate: model(0.55, 0.1),
  production: model(0.55, 0.1),
  ...over,
});

describe('decidePromotion', () => {
  it.each([
    ['no production model', null, model(0.4, 0.5), 'promote', 'no_production'],
    ['a higher hit rate', model(0.52, 0.05), model(0.55, 0.3), 'promote', 'higher_hit_rate'],
    ['a lower hit rate', model(0.55, 0.3), model(0.52, 0.01), 'reject', 'lower_hit_rate'],
    ['an equal hit rate and a lower drawdown', model(0.55, 0.2), model(0.55, 0.1), 'promote', 'equal_hit_rate_lower_drawdown'],
    ['an equal hit rate and an equal drawdown', model(0.55, 0.1), model(0.55, 0.1), 'reject', 'not_better'],
    ['an equal hit rate and a higher drawdown', model(0.55, 0.1), model(0.55, 0.2), 'reject', 'not_better'],
  ])('decides on %s', (_, production, candidate, outcome, rule) => {
    expect(decidePromotion(input({ production, candidate }))).toEqual({ outcome, rule, mode: 'auto', applied: false, reason: expect.any(String) });
  });

  it('treats hit rates that differ only by float noise as equal', () => {
    const d = decidePromotion(input({ production: model(0.3, 0.2), candidate: model(0.1 + 0.2, 0.1) }));
    expect(d.rule).toBe('equal_hit_rate_lower_drawdown');
  });

  it('says why in numbers', () => {
    expect(decidePromotion(input({ production: model(0.5, 0.1), candidate: model(0.5625, 0.1) })).reason).toBe('hit rate 56.25% > production 50.00%');
  });

  it('does not compare models evaluated on different windows or costs', () => {
    const window = decidePromotion(input({ candidate: model(0.9, 0, { evaluationWindow: { candles: 500 } }) }));
    expect(window).toMatchObject({ outcome: 'not_comparable', rule: 'evaluation_window_differs', reason: 'evaluated on 500 candles, production on 400' });
    const costs = decidePromotion(input({ candidate: model(0.9, 0, { costs: { feeBps: 10, spreadBps: 5 } }) }));
    expect(costs).toMatchObject({ outcome: 'not_comparable', rule: 'costs_differ' });
  });

  it('skips everything when promotion is off, even with nothing in production', () => {
    expect(decidePromotion(input({ requested: 'off', production: null }))).toEqual({
      outcome: 'skipped',
      rule: 'promotion_off',
      mode: 'off',
      applied: false,
      reason: 'promotion is off for this run',
    });
  });

  it('decides the same way under the dry policy', () => {
    expect(decidePromotion(input({ requested: 'dry', production: model(0.5, 0.1), candidate: model(0.6, 0.1) }))).toMatchObject({
      outcome: 'promote',
      rule: 'higher_hit_rate',
      mode: 'dry',
    });
  });

  it.each([
    [{ canary: true }, 'canary run: auto downgraded to dry'],
    [{ dryOnly: true }, 'PROMOTER_DRY_ONLY: auto downgraded to dry'],
  ])('downgrades auto to dry for %j and says so', (over, note) => {
    const d = decidePromotion(input({ ...over, production: null }));
    expect(d).toMatchObject({ outcome: 'promote', rule: 'no_production', mode: 'dry', applied: false });
    expect(d.reason).toBe(`no production model yet (${note})`);
  });
});

describe('promotion floors', () => {
  const poor = (): Evaluated => ({ ...model(0.47, 0.35), metrics: { ...metrics(0.47, 0.35), sharpe: -2.7 } });

  it('refuses a first model below a floor, with every floor it misses in the reason', () => {
    const d = decidePromotion(input({ production: null, candidate: poor(), floors: { minSharpe: 0, minHitRate: 0.5, maxDrawdown: 0.3 } }));
    expect(d).toEqual({
      outcome: 'reject',
      rule: 'below_floor',
      mode: 'auto',
      applied: false,
      reason: 'Sharpe -2.70 below the floor 0.00; hit rate 47.00% below the floor 50.00%; max drawdown 35.00% above the ceiling 30.00%',
    });
  });

  it('applies before the comparison: a better model below a floor is still refused', () => {
    const d = decidePromotion(input({ production: model(0.4, 0.5), candidate: poor(), floors: { minSharpe: 0 } }));
    expect(d).toMatchObject({ outcome: 'reject', rule: 'below_floor', reason: 'Sharpe -2.70 below the floor 0.00' });
  });

  it('lets a model on a floor through to the usual rules, and ignores unset floors', () => {
    expect(decidePromotion(input({ production: null, candidate: model(0.5, 0.3), floors: { minHitRate: 0.5, maxDrawdown: 0.3 } })).rule).toBe('no_production');
    expect(decidePromotion(input({ production: null, candidate: poor(), floors: {} })).rule).toBe('no_production');
  });

  it('refuses metrics that are not numbers', () => {
    const nan = { ...model(0.6, 0.1), metrics: { ...metrics(0.6, 0.1), sharpe: Number.NaN } };
    expect(decidePromotion(input({ production: null, candidate: nan, floors: { minSharpe: -10 } })).rule).toBe('below_floor');
  });

  it('does not judge when promotion is off', () => {
    expect(decidePromotion(input({ requested: 'off', candidate: poor(), floors: { minSharpe: 0 } })).rule).toBe('promotion_off');
  });
});

describe('effectivePolicy', () => {
  it('leaves off and dry alone on a canary or a dry-only promoter', () => {
    expect(effectivePolicy('off', true, true)).toEqual({ policy: 'off' });
    expect(effectivePolicy('dry', true, false)).toEqual({ policy: 'dry' });
    expect(effectivePolicy('dry', false, true)).toEqual({ policy: 'dry' });
    expect(effectivePolicy('auto', false, false)).toEqual({ policy: 'auto' });
  });
});
