import { checkSymbols } from './symbol-selection';

describe('symbol selection', () => {
  it('refuses entries that are not symbols, with the reason, and keeps the rest', () => {
    const r = checkSymbols(['btcusdt', 'ETHUSDT', '../etc', 'ETHUSDT', '']);
    expect(r.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(r.refused.map((x) => x.symbol)).toEqual(['../etc', 'ETHUSDT', '']);
    expect(r.refused[0]?.reason).toMatch(/upper-case letters or digits/);
    expect(r.refused[1]?.reason).toBe('listed twice');
  });
});
