import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_COSTS } from '@trainyard/contracts';
import { loadCosts } from './trading-costs';

describe('trading costs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ty-costs-'));

  it('uses per-symbol costs, then the file default, then the built-in default', async () => {
    const file = join(dir, 'costs.json');
    writeFileSync(file, JSON.stringify({ default: { feeBps: 7.5, spreadBps: 1 }, symbols: { BTCUSDT: { feeBps: 2, spreadBps: 0.5 } } }));
    expect(await loadCosts(['BTCUSDT', 'ETHUSDT'], file)).toEqual({ BTCUSDT: { feeBps: 2, spreadBps: 0.5 }, ETHUSDT: { feeBps: 7.5, spreadBps: 1 } });
    expect(await loadCosts(['ETHUSDT'])).toEqual({ ETHUSDT: DEFAULT_COSTS });
  });

  it('says what is wrong with a bad file', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ symbols: { BTCUSDT: { feeBps: -1, spreadBps: 1 } } }));
    await expect(loadCosts(['BTCUSDT'], file)).rejects.toThrow(/invalid: symbols.BTCUSDT.feeBps/);
    await expect(loadCosts(['BTCUSDT'], join(dir, 'missing.json'))).rejects.toThrow(/cannot read the costs file/);
  });
});
