import { parseModelsCommand } from './models-command';

describe('trainyard models', () => {
  it('maps each action to its promoter API request', () => {
    expect(parseModelsCommand(['list', '--symbol', 'BTCUSDT', '--stage', 'production'])).toEqual({ method: 'GET', path: '/models?symbol=BTCUSDT&stage=production' });
    expect(parseModelsCommand(['show', 'BTCUSDT', '3'])).toEqual({ method: 'GET', path: '/models/BTCUSDT/3' });
    expect(parseModelsCommand(['promote', 'ETHUSDT', '2', '--reason', 'manual'])).toEqual({ method: 'POST', path: '/models/ETHUSDT/promote', body: { version: 2, reason: 'manual' } });
    expect(parseModelsCommand(['rollback', 'ETHUSDT'])).toEqual({ method: 'POST', path: '/models/ETHUSDT/rollback', body: {} });
    expect(parseModelsCommand(['rollback', 'ETHUSDT', '4'])).toMatchObject({ body: { version: 4 } });
  });

  it.each([
    [['promote', 'ETHUSDT'], /a version number is required/],
    [['show', 'eth/usdt', '1'], /is not a symbol/],
    [['rollback', 'ETHUSDT', '0'], /whole number from 1/],
    [['list', '--stage', 'live'], /--stage must be one of candidate, production, archived/],
    [['delete', 'ETHUSDT'], /unknown models command "delete"/],
    [['list', '--colour'], /Unknown option '--colour'/],
  ])('refuses %j with a message that says what is wrong', (argv, message) => {
    expect(() => parseModelsCommand(argv)).toThrow(message);
  });
});
