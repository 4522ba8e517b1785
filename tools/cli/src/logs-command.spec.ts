import { formatLine, lineOfRun, parseLogsCommand } from './logs-command';

const line = (o: object) => JSON.stringify({ level: 'info', time: '2026-11-30T10:00:00.000Z', service: 'scheduler', ...o });

describe('trainyard logs', () => {
  it('keeps the lines of the run, and of the symbol when one is asked for', () => {
    expect(lineOfRun(line({ runId: 'r1', msg: 'accepted' }), 'r1')).toMatchObject({ msg: 'accepted' });
    expect(lineOfRun(line({ jobId: 'r1-BTCUSDT', msg: 'lease' }), 'r1', 'BTCUSDT')).not.toBeNull();
    expect(lineOfRun(line({ jobIds: ['r1-BTCUSDT'], runId: 'r1' }), 'r1', 'BTCUSDT')).not.toBeNull();
    expect(lineOfRun(line({ jobId: 'r1-BTCUSDT-bull' }), 'r1', 'BTCUSDT')).not.toBeNull();
    expect(lineOfRun(line({ runId: 'r1', symbol: 'ETHUSDT' }), 'r1', 'BTCUSDT')).toBeNull();
    // r1 is not r10, and a line that only mentions a run in its text is not about it.
    expect(lineOfRun(line({ runId: 'r10', jobId: 'r10-BTCUSDT' }), 'r1')).toBeNull();
    expect(lineOfRun(line({ msg: 'r1 mentioned' }), 'r1')).toBeNull();
    expect(lineOfRun('not json r1', 'r1')).toBeNull();
    expect(lineOfRun('{"runId": "r1", broken', 'r1')).toBeNull();
  });

  it('prints a line as time, service, level, event and message', () => {
    expect(formatLine({ time: '2026-11-30T10:00:00.000Z', service: 'promoter', level: 'info', event: 'model_promoted', msg: 'BTCUSDT v2 promoted' })).toBe(
      '2026-11-30T10:00:00.000Z promoter      info  model_promoted: BTCUSDT v2 promoted',
    );
  });

  it('reads its flags and refuses what is not a run, a symbol or one source', () => {
    expect(parseLogsCommand(['daily-20261130', '--symbol', 'BTCUSDT', '--follow'], '/d')).toEqual({ runId: 'daily-20261130', symbol: 'BTCUSDT', follow: true, dir: '/d' });
    expect(parseLogsCommand(['r1', '--stdin'], '/d').dir).toBeNull();
    expect(() => parseLogsCommand([], '/d')).toThrow(/name the run/);
    expect(() => parseLogsCommand(['../etc'], '/d')).toThrow(/is not a run id/);
    expect(() => parseLogsCommand(['r1', '--symbol', 'btc usdt'], '/d')).toThrow(/--symbol: "btc usdt" is not a symbol/);
    expect(() => parseLogsCommand(['r1', '--stdin', '--dir', '/x'], '/d')).toThrow(/give one/);
  });
});
