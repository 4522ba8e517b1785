import { symbolSelection, variantsFlag } from './run-flags';

describe('run flags shared by the CLI and the bot', () => {
  it('takes symbols in any case, as the bot always did, and a topN only within what a request may carry', () => {
    expect(symbolSelection('btcusdt, EthUsdt')).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(symbolSelection('TOP10')).toEqual({ topN: 10 });
    // Both were let through to fail as an invalid run.requested, in the bus's words, not the flag's.
    expect(() => symbolSelection('top0')).toThrow(/--symbols: "top0" is out of range \(.*>=1/);
    expect(() => symbolSelection('top5001', 'symbols')).toThrow(/symbols: "top5001" is out of range \(.*<=5000/);
    expect(() => symbolSelection('btc-usdt')).toThrow(/"btc-usdt" is not a symbol/);
  });

  it('takes --variants as a list of known variants, each once', () => {
    expect(variantsFlag(undefined)).toBeUndefined();
    expect(variantsFlag('default, bull,bear')).toEqual(['default', 'bull', 'bear']);
    expect(() => variantsFlag('bull,crab')).toThrow(/"crab" is not a variant; each must be one of default, bull, bear, sideways/);
    expect(() => variantsFlag('bull,bull')).toThrow(/bull is given twice/);
    expect(() => variantsFlag(',')).toThrow(/none given/);
  });
});
