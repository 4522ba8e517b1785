import { parseModelsCommand } from './models-command';

describe('trainyard models', () => {
  it('maps each action to its promoter API request', async () => {
    expect(await parseModelsCommand(['list', '--symbol', 'BTCUSDT', '--stage', 'production'])).toEqual({ method: 'GET', path: '/models?symbol=BTCUSDT&stage=production' });
    expect(await parseModelsCommand(['show', 'BTCUSDT', '3'])).toEqual({ method: 'GET', path: '/models/BTCUSDT/3' });
    expect(await parseModelsCommand(['promote', 'ETHUSDT', '2', '--reason', 'manual'])).toEqual({ method: 'POST', path: '/models/ETHUSDT/promote', body: { version: 2, reason: 'manual' } });
    expect(await parseModelsCommand(['rollback', 'ETHUSDT'])).toEqual({ method: 'POST', path: '/models/ETHUSDT/rollback', body: {} });
    expect(await parseModelsCommand(['rollback', 'ETHUSDT', '4'])).toMatchObject({ body: { version: 4 } });
  });

  it("names a regime specialist's registry as SYMBOL/variant, the plain model's as the symbol", async () => {
    expect(await parseModelsCommand(['list', '--symbol', 'BTCUSDT/bull'])).toEqual({ method: 'GET', path: '/models?symbol=BTCUSDT&variant=bull' });
    expect(await parseModelsCommand(['list', '--variant', 'default'])).toEqual({ method: 'GET', path: '/models?variant=default' });
    expect(await parseModelsCommand(['show', 'BTCUSDT/bear', '3'])).toEqual({ method: 'GET', path: '/models/BTCUSDT/3?variant=bear' });
    expect(await parseModelsCommand(['promote', 'BTCUSDT/bull', '2'])).toEqual({ method: 'POST', path: '/models/BTCUSDT/promote?variant=bull', body: { version: 2 } });
    expect(await parseModelsCommand(['rollback', 'BTCUSDT/sideways'])).toEqual({ method: 'POST', path: '/models/BTCUSDT/rollback?variant=sideways', body: {} });
    expect(await parseModelsCommand(['rollback', 'BTCUSDT/default'])).toEqual({ method: 'POST', path: '/models/BTCUSDT/rollback', body: {} });
  });

  it.each([
    [['promote', 'ETHUSDT'], /a version number is required/],
    [['show', 'eth/usdt', '1'], /is not a symbol/],
    [['rollback', 'ETHUSDT', '0'], /whole number from 1/],
    [['list', '--stage', 'live'], /--stage must be one of candidate, production, archived/],
    [['delete', 'ETHUSDT'], /unknown models command "delete"/],
    [['list', '--colour'], /Unknown option '--colour'/],
    [['rollback', 'BTCUSDT/crab'], /"crab" is not a variant: one of default, bull, bear, sideways/],
    [['show', 'BTCUSDT/bull/x', '1'], /is not a model: a symbol, or a symbol and a variant/],
    [['list', '--symbol', 'BTCUSDT/bull', '--variant', 'bear'], /give the variant once/],
  ])('refuses %j with a message that says what is wrong', async (argv, message) => {
    await expect(parseModelsCommand(argv)).rejects.toThrow(message);
  });
});
