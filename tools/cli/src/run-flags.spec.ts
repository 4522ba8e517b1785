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
  });

  it('builds the run request with the flags given', () => {
    const f = parseRunFlags(['--symbols', 'BTCUSDT', '--mode', 'sequential', '--max-concurrent', '3', '--date', '2026-11-22', '--promote', 'auto', '--dry-run', '--json']);
    expect(f.request).toMatchObject({ trigger: 'cli', symbols: ['BTCUSDT'], mode: 'sequential', maxConcurrent: 3, date: '2026-11-22', promote: 'auto', dryRun: true });
    expect(f.json).toBe(true);
    expect(f.request.ensureFeatures).toBe(false);
    expect(parseRunFlags(['--symbols', 'BTCUSDT', '--ensure-features']).request.ensureFeatures).toBe(true);
  });

  it.each([
    [['--symbols', 'BTCUSDT', '--mode', 'fast'], /--mode must be one of sequential, parallel, hybrid \(got "fast"\)/],
    [['--symbols', 'BTCUSDT', '--max-concurrent', '0'], /--max-concurrent must be a positive whole number/],
    [['--symbols', 'BTCUSDT', '--date', '2026-02-30'], /--date must be a real date/],
    [['--symbols', 'BTCUSDT', '--promote', 'yes'], /--promote must be one of off, dry, auto/],
    [['--symbols', 'BTCUSDT', '--purpose', 'fun'], /--purpose must be one of production, search/],
    [['--symbols', 'BTCUSDT', '--colour'], /unknown flag --colour; allowed: --symbols/],
    [['--mode', 'hybrid'], /--symbols is required/],
    [['--symbols', 'missing.csv'], /no such CSV file "missing.csv"/],
    [['--symbols', 'BTCUSDT,../etc'], /--symbols: "..\/etc" is not a symbol/],
  ])('names the flag and what is allowed: %j', (argv, message) => {
    expect(() => parseRunFlags(argv)).toThrow(message);
  });
});
