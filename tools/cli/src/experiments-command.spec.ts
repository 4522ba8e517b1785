import { parseExperimentsCommand } from './experiments-command';

describe('trainyard experiments', () => {
  it('maps each action to its scheduler API request, or to an export', () => {
    expect(parseExperimentsCommand(['list', '--symbol', 'BTCUSDT', '--purpose', 'search', '--status', 'finished'])).toEqual({
      kind: 'get',
      path: '/experiments/runs?symbol=BTCUSDT&purpose=search&status=finished',
    });
    expect(parseExperimentsCommand(['show', 'daily-20261130-BTCUSDT-a2'])).toEqual({ kind: 'get', path: '/experiments/runs/daily-20261130-BTCUSDT-a2' });
    expect(parseExperimentsCommand(['compare', 'r-BTCUSDT-a1', 'r-BTCUSDT-a2', '--metric', 'val/accuracy'])).toEqual({
      kind: 'get',
      path: '/experiments/compare?runs=r-BTCUSDT-a1%2Cr-BTCUSDT-a2&metric=val%2Faccuracy',
    });
    expect(parseExperimentsCommand(['compare', 'r-BTCUSDT-a1', 'r-BTCUSDT-a2', '--png', 'out.png'])).toMatchObject({ path: expect.stringMatching(/^\/experiments\/compare\.png\?/), png: 'out.png' });
    expect(parseExperimentsCommand(['export', 'r-BTCUSDT-a1', '--mlflow', '/tmp/ml'])).toEqual({ kind: 'export', runs: ['r-BTCUSDT-a1'], dir: '/tmp/ml' });
  });

  it.each([
    [['show'], /a tracked run id is required/],
    [['show', '../etc/passwd'], /is not a tracked run id/],
    [['compare', 'r-BTCUSDT-a1'], /2 to 10 runs/],
    [['list', '--status', 'done'], /--status must be one of/],
    [['list', '--symbol', 'btc/usdt'], /--symbol: "btc\/usdt" is not valid/],
    [['export', 'r-BTCUSDT-a1'], /needs --mlflow DIR/],
    [['drop'], /unknown experiments command "drop"/],
    [['list', '--colour'], /Unknown option '--colour'/],
  ])('refuses %j with a message that says what is wrong', (argv, message) => {
    expect(() => parseExperimentsCommand(argv)).toThrow(message);
  });
});
