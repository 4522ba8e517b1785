import { flattenParams } from './tracked-run';

describe('flattenParams', () => {
  it('flattens a nested config into sorted dotted keys with string values', () => {
    const params = flattenParams({
      model: { kind: 'lstm', layers: [64, 32], dropout: 0.2, head: { bias: true } },
      data: { symbol: 'BTCUSDT', from: new Date('2024-01-01T00:00:00Z'), window: null, extra: undefined, empty: {} },
      seed: 7,
    });
    expect(params).toEqual({
      'data.empty': '{}',
      'data.from': '2024-01-01T00:00:00.000Z',
      'data.symbol': 'BTCUSDT',
      'data.window': 'null',
      'model.dropout': '0.2',
      'model.head.bias': 'true',
      'model.kind': 'lstm',
      'model.layers': '[64,32]',
      seed: '7',
    });
    expect(Object.keys(params)).toEqual([...Object.keys(params)].sort());
  });

  it('refuses a config where two paths give the same key', () => {
    expect(() => flattenParams({ a: { b: 1 }, 'a.b': 2 })).toThrow('"a.b" is produced by two different paths');
  });
});
