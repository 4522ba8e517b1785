import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSymbolCsv, resolveSymbols } from './symbol-selection';

describe('symbol selection', () => {
  it('refuses entries that are not symbols, with the reason, and keeps the rest', async () => {
    const r = await resolveSymbols(['btcusdt', 'ETHUSDT', '../etc', 'ETHUSDT', '']);
    expect(r.symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(r.refused.map((x) => x.symbol)).toEqual(['../etc', 'ETHUSDT', '']);
    expect(r.refused[0].reason).toMatch(/upper-case letters or digits/);
    expect(r.refused[1].reason).toBe('listed twice');
  });

  it('takes the top N of the ranked universe', async () => {
    expect((await resolveSymbols({ topN: 3 })).symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    const dir = mkdtempSync(join(tmpdir(), 'ty-universe-'));
    writeFileSync(join(dir, 'u.txt'), 'DOGEUSDT\nADAUSDT\nXRPUSDT\n');
    expect((await resolveSymbols({ topN: 2 }, join(dir, 'u.txt'))).symbols).toEqual(['DOGEUSDT', 'ADAUSDT']);
  });

  it('reads a CSV by its symbol column or its first column', () => {
    expect(parseSymbolCsv('rank,symbol\n1,BTCUSDT\n2,"ETHUSDT"\n')).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(parseSymbolCsv('SOLUSDT,x\nBNBUSDT,y\n')).toEqual(['SOLUSDT', 'BNBUSDT']);
  });
});
