import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunFlags, parseSymbols } from './run-flags';

describe('run flags', () => {
  it('reads a list, topN and a CSV file', () => {
    expect(parseSymbols('BTCUSDT, ETHUSDT')).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(parseSymbols('top25')).toEqual({ topN: 25 });
    const dir = mkdtempSync(join(tmpdir(), 'ty-cli-'));
    writeFileSync(join(dir, 's.csv'), 'rank,symbol\n1,BTCUSDT\n2,SOLUSDT\n');
    expect(parseSymbols(join(dir, 's.csv'))).toEqual(['BTCUSDT', 'SOLUSDT']);
    // Without a header naming the column, the first one; quotes and blank lines do not matter.
    writeFileSync(join(dir, 'plain.csv'), '"ETHUSDT",x\n\nBNBUSDT,y\n');
    expect(parseSymbols(join(dir, 'plain.csv'))).toEqual(['ETHUSDT', 'BNBUSDT']);
    // In any case, as a list on the command line is.
    expect(parseSymbols('btcusdt,Ethusdt')).toEqual(['BTCUSDT', 'ETHUSDT']);
    writeFileSync(join(dir, 'lower.csv'), 'symbol\nbtcusdt\nSolUsdt\n');
    expect(parseSymbols(join(dir, 'lower.csv'))).toEqual(['BTCUSDT', 'SOLUSDT']);
  });

  it('reads only a .csv file, and never echoes a line of it (fuzz finding: --symbols ../../etc/passwd printed its first line)', () => {
    expect(() => parseSymbols('/etc/passwd')).toThrow(/"\/etc\/passwd" is not a symbol/);
    const dir = mkdtempSync(join(tmpdir(), 'ty-cli-'));
    writeFileSync(join(dir, 'secret.csv'), 'symbol\nBTCUSDT\nroot:x:0:0:secret-line\n');
    let message = '';
    try {
      parseSymbols(join(dir, 'secret.csv'));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/entry 2 of ".*secret\.csv" is not a symbol/);
    expect(message).not.toMatch(/secret-line|root:x/);
  });

  it('names a trainer the agents allow, with checked arguments, never a command line or a path', () => {
    const f = parseRunFlags([
      '--symbols',
      'BTCUSDT',
      '--driver',
      'command',
      '--trainer',
      'pytorch',
      '--trainer-arg=--epochs=20',
      '--trainer-arg',
      'fast',
      '--gpu-memory-gb',
      '2',
      '--featureset',
      'fs2',
    ]);
    expect(f.request).toMatchObject({ driver: { kind: 'command', trainer: 'pytorch', args: ['--epochs=20', 'fast'] }, gpuMemoryGb: 2, featureset: 'fs2' });
    expect(parseRunFlags(['--symbols', 'BTCUSDT', '--trainer', 'pytorch']).request.driver).toEqual({ kind: 'command', trainer: 'pytorch', args: [] });
    expect(parseRunFlags(['--symbols', 'BTCUSDT']).request.driver).toBeUndefined();
    expect(() => parseRunFlags(['--symbols', 'BTCUSDT', '--driver', 'command'])).toThrow(/--driver command needs --trainer NAME/);
    expect(() => parseRunFlags(['--symbols', 'BTCUSDT', '--trainer', 'pytorch', '--trainer-arg=--data=/etc/passwd'])).toThrow(/--trainer-arg: .*no paths/);
    expect(() => parseRunFlags(['--symbols', 'BTCUSDT', '--trainer', 'sh -c id'])).toThrow(/--trainer: a trainer name/);
    expect(() => parseRunFlags(['--symbols', 'BTCUSDT', '--featureset', '../../etc'])).toThrow(/--featureset: a featureset name/);
    expect(() => parseRunFlags(['--symbols', 'BTCUSDT', '--driver', 'builtin', '--trainer', 'pytorch'])).toThrow(/go with --driver command/);
  });

  it('builds the run request with the flags given', () => {
    const f = parseRunFlags(['--symbols', 'BTCUSDT', '--mode', 'sequential', '--max-concurrent', '3', '--date', '2026-11-22', '--promote', 'auto', '--dry-run', '--json']);
    expect(f.request).toMatchObject({ trigger: 'cli', symbols: ['BTCUSDT'], mode: 'sequential', maxConcurrent: 3, date: '2026-11-22', promote: 'auto', dryRun: true });
    expect(f.json).toBe(true);
    expect(f.request.ensureFeatures).toBe(false);
    expect(parseRunFlags(['--symbols', 'BTCUSDT', '--ensure-features']).request.ensureFeatures).toBe(true);
  });

  it('takes the data options per run, --live as the opposite of --canary, and leaves symbols to the daily set when not given', () => {
    const f = parseRunFlags(['--lookback-candles', '500', '--timeframe', '4h', '--live', '--promotion-wait-seconds', '5']);
    expect(f.request).toMatchObject({ trigger: 'cli', lookbackCandles: 500, timeframe: '4h', canary: false });
    expect(f.request).not.toHaveProperty('symbols');
    expect(f.promotionWaitSeconds).toBe(5);
    expect(parseRunFlags(['--symbols', 'BTCUSDT']).request).toMatchObject({ lookbackCandles: undefined, timeframe: undefined, canary: false });
    expect(parseRunFlags(['--canary']).request.canary).toBe(true);
  });

  it.each([
    [['--symbols', 'BTCUSDT', '--mode', 'fast'], /--mode must be one of sequential, parallel, hybrid \(got "fast"\)/],
    [['--symbols', 'BTCUSDT', '--max-concurrent', '0'], /--max-concurrent must be a positive whole number/],
    [['--symbols', 'BTCUSDT', '--date', '2026-02-30'], /--date must be a real date/],
    [['--symbols', 'BTCUSDT', '--promote', 'yes'], /--promote must be one of off, dry, auto/],
    [['--symbols', 'BTCUSDT', '--purpose', 'fun'], /--purpose must be one of production, search/],
    [['--symbols', 'BTCUSDT', '--colour'], /unknown flag --colour; allowed: --symbols/],
    [['--symbols', ''], /--symbols is empty/],
    [['--symbols', 'BTCUSDT', '--lookback-candles', '100'], /--lookback-candles must be 200..1000000 candles \(got 100\)/],
    [['--symbols', 'BTCUSDT', '--lookback-candles', '1.5'], /--lookback-candles must be a positive whole number/],
    [['--symbols', 'BTCUSDT', '--timeframe', '2h'], /--timeframe must be one of 1m, 5m, 15m, 1h, 4h, 1d \(got "2h"\)/],
    [['--symbols', 'BTCUSDT', '--canary', '--live'], /--canary and --live are opposites/],
    [['--symbols', 'missing.csv'], /no such CSV file "missing.csv"/],
    [['--symbols', 'BTCUSDT,../etc'], /--symbols: "..\/etc" is not a symbol/],
  ])('names the flag and what is allowed: %j', (argv, message) => {
    expect(() => parseRunFlags(argv)).toThrow(message);
  });
});
