import { parseSearchCommand } from './search-command';

const space = JSON.stringify({ 'model.learningRate': { type: 'float', low: 0.0001, high: 1, log: true } });
const read = (path: string) => {
  if (path !== 'space.json') throw new Error(`ENOENT: no such file, open '${path}'`);
  return space;
};

describe('trainyard search', () => {
  it('starts a study from a space file read by the CLI, and maps list, show and promote-best', () => {
    expect(
      parseSearchCommand(['BTCUSDT', '--space', 'space.json', '--trials', '40', '--parallel', '4', '--sampler', 'tpe', '--pruner', 'median', '--objective', 'sharpe', '--seed', '7'], read),
    ).toEqual({
      method: 'POST',
      path: '/studies',
      body: { symbol: 'BTCUSDT', space: JSON.parse(space), trials: 40, parallel: 4, sampler: 'tpe', pruner: { type: 'median' }, objective: 'sharpe', seed: 7 },
    });
    expect(parseSearchCommand(['ETHUSDT', '--space', 'space.json', '--trials', '9', '--pruner', 'hyperband', '--max-resource', '30'], read).body).toMatchObject({
      pruner: { type: 'hyperband', maxResource: 30 },
    });
    expect(parseSearchCommand(['list'])).toEqual({ method: 'GET', path: '/studies' });
    expect(parseSearchCommand(['show', 'study-btc-1', '--history-png', 'h.png'])).toEqual({
      method: 'GET',
      path: '/studies/study-btc-1',
      charts: [{ path: '/studies/study-btc-1/history.png', file: 'h.png' }],
    });
    expect(parseSearchCommand(['promote-best', 'study-btc-1', '--dry'])).toEqual({ method: 'POST', path: '/studies/study-btc-1/promote-best', body: { promote: 'dry' } });
  });

  it.each([
    [['BTCUSDT', '--trials', '3'], /--space FILE is required/],
    [['BTCUSDT', '--space', 'missing.json', '--trials', '3'], /not a readable JSON file/],
    [['BTCUSDT', '--space', 'space.json'], /--trials N is required/],
    [['BTCUSDT', '--space', 'space.json', '--trials', '0'], /--trials must be a whole number from 1 to 1000/],
    [['BTCUSDT', '--space', 'space.json', '--trials', '3', '--sampler', 'cmaes'], /--sampler must be one of tpe, random, grid/],
    [['BTCUSDT', '--space', 'space.json', '--trials', '3', '--pruner', 'hyperband'], /needs --max-resource/],
    [['../etc', '--space', 'space.json', '--trials', '3'], /is neither a symbol/],
    [['show'], /a study id is required/],
    [['BTCUSDT', '--colour'], /Unknown option '--colour'/],
  ])('refuses %j with a message that says what is wrong', (argv, message) => {
    expect(() => parseSearchCommand(argv, read)).toThrow(message);
  });
});
