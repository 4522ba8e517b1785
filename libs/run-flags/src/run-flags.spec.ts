import { variantsFlag } from './run-flags';

describe('run flags shared by the CLI and the bot', () => {
  it('takes --variants as a list of known variants, each once', () => {
    expect(variantsFlag(undefined)).toBeUndefined();
    expect(variantsFlag('default, bull,bear')).toEqual(['default', 'bull', 'bear']);
    expect(() => variantsFlag('bull,crab')).toThrow(/"crab" is not a variant; each must be one of default, bull, bear, sideways/);
    expect(() => variantsFlag('bull,bull')).toThrow(/bull is given twice/);
    expect(() => variantsFlag(',')).toThrow(/none given/);
  });
});
