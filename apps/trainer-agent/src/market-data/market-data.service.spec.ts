import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toJobSpec } from '@trainyard/contracts';
import { startFakeExchange, testJobDefinition, type FakeExchange } from '@trainyard/testing';
import { agentEnv, type AgentConfig } from '../config/agent.config';
import { trainBuiltin, TrainingDataError } from '../training/builtin-training';
import { validateCandles } from '../training/candles';
import { parseCandleCsv } from './candle-csv';
import { encodeCandleParquet, parseCandleParquet } from './candle-parquet';
import { writeParquet } from './parquet-io';
import { KlinesClient } from './klines-client';
import { MarketDataService } from './market-data.service';

const marketData = (cfg: AgentConfig) => new MarketDataService(cfg, new KlinesClient(cfg));

const HOUR = 3_600_000;
const spec = (symbol: string, lookbackCandles: number) => toJobSpec(testJobDefinition({ symbol, runId: 'r', lookbackCandles }), 1);
const end = Date.parse('2026-11-23T00:00:00Z');

function csv(count: number, skip?: number): string {
  const rows = ['open_time,open,high,low,close,volume'];
  for (let i = count; i >= 1; i--) {
    if (i === skip) continue;
    const t = end - i * HOUR;
    const p = 100 + Math.sin(i / 9) * 5 + (i % 5);
    rows.push(`${t},${p},${p + 1},${p - 1},${p + 0.3},${1000 + (i % 17)}`);
  }
  rows.push(`${end},1,2,0.5,1.5,10`); // the next day's first candle: past the data date
  return rows.join('\n');
}

describe('market data', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ty-candles-'));
  let exchange: FakeExchange;
  beforeAll(async () => {
    exchange = await startFakeExchange([{ symbol: 'BTCUSDT', quoteVolume: 1, bidPrice: 1, askPrice: 1 }]);
  });
  afterAll(() => exchange.close());

  it('reads candle CSVs by their header, and says which column is missing', () => {
    expect(parseCandleCsv('volume,close,low,high,open,open_time\n5,2,1,3,1.5,2026-11-22T00:00:00Z\n')).toEqual([
      { openTime: Date.parse('2026-11-22T00:00:00Z'), open: 1.5, high: 3, low: 1, close: 2, volume: 5 },
    ]);
    expect(() => parseCandleCsv('open_time,open,high,low,close\n1,1,1,1,1')).toThrow(/no "volume" column/);
  });

  it('takes the lookback from files, up to the end of the data date', async () => {
    writeFileSync(join(dir, 'BTCUSDT_1h.csv'), csv(900));
    const data = marketData(agentEnv.parse({ AGENT_DATA_SOURCE: 'files', AGENT_DATA_DIR: dir }));
    const candles = (await data.candlesFor(spec('BTCUSDT', 600)))!;
    expect(candles).toHaveLength(600);
    expect(candles.at(-1)?.openTime).toBe(end - HOUR);
    expect(validateCandles(candles, '1h')).toEqual([]);
    expect(trainBuiltin({ spec: spec('BTCUSDT', 600), candles }).metrics.directionalHitRate).toBeGreaterThan(0);
  });

  it('reads Parquet candle files, preferring them to a CSV of the same name', async () => {
    const csvCandles = parseCandleCsv(csv(900));
    writeFileSync(join(dir, 'XRPUSDT_1h.csv'), csv(900));
    writeFileSync(join(dir, 'XRPUSDT_1h.parquet'), encodeCandleParquet(csvCandles.map((c) => ({ ...c, volume: c.volume + 1 }))));
    const data = marketData(agentEnv.parse({ AGENT_DATA_SOURCE: 'files', AGENT_DATA_DIR: dir }));
    const candles = (await data.candlesFor(spec('XRPUSDT', 600)))!;
    expect(candles).toEqual(
      csvCandles
        .filter((c) => c.openTime < end)
        .slice(-600)
        .map((c) => ({ ...c, volume: c.volume + 1 })),
    );
    expect(data.sourceFor(spec('XRPUSDT', 600))).toBe('files');
  });

  it('takes Parquet columns by name in any order and type, and says which column is missing', async () => {
    const body = await writeParquet({ volume: { type: 'INT64' }, close: { type: 'FLOAT' }, low: { type: 'DOUBLE' }, high: { type: 'DOUBLE' }, open: { type: 'DOUBLE' }, timestamp: { type: 'UTF8' } }, [
      { volume: 5, close: 2, low: 1, high: 3, open: 1.5, timestamp: '2026-11-22T00:00:00Z' },
    ]);
    expect(await parseCandleParquet(body)).toEqual([{ openTime: Date.parse('2026-11-22T00:00:00Z'), open: 1.5, high: 3, low: 1, close: 2, volume: 5 }]);
    const noVolume = await writeParquet({ open_time: { type: 'INT64' }, open: { type: 'DOUBLE' }, high: { type: 'DOUBLE' }, low: { type: 'DOUBLE' }, close: { type: 'DOUBLE' } }, [
      { open_time: 1, open: 1, high: 1, low: 1, close: 1 },
    ]);
    await expect(parseCandleParquet(noVolume)).rejects.toThrow(/no "volume" column/);
    await expect(parseCandleParquet(Buffer.from('open_time,open\n1,2\n'))).rejects.toThrow(/not a readable Parquet file/);
    writeFileSync(join(dir, 'DOGEUSDT_1h.parquet'), 'not parquet');
    const data = marketData(agentEnv.parse({ AGENT_DATA_SOURCE: 'files', AGENT_DATA_DIR: dir }));
    await expect(data.candlesFor(spec('DOGEUSDT', 600))).rejects.toMatchObject({ errorType: 'bad_data', message: expect.stringMatching(/DOGEUSDT_1h\.parquet: not a readable Parquet file/) });
  });

  it('reports a gap in file candles as bad data, not something to train on', async () => {
    writeFileSync(join(dir, 'ETHUSDT_1h.csv'), csv(700, 300));
    const data = marketData(agentEnv.parse({ AGENT_DATA_SOURCE: 'files', AGENT_DATA_DIR: dir }));
    const candles = (await data.candlesFor(spec('ETHUSDT', 600)))!;
    expect(() => trainBuiltin({ spec: spec('ETHUSDT', 600), candles })).toThrow(TrainingDataError);
    await expect(data.candlesFor(spec('SOLUSDT', 600))).rejects.toMatchObject({ errorType: 'bad_data', retryable: false });
  });

  it('pages the exchange klines backwards until the lookback is covered', async () => {
    const data = marketData(agentEnv.parse({ AGENT_DATA_SOURCE: 'exchange', EXCHANGE_API_URL: exchange.url }));
    const candles = (await data.candlesFor(spec('BTCUSDT', 2500)))!;
    expect(candles).toHaveLength(2500);
    expect(candles.at(-1)?.openTime).toBe(end - HOUR);
    expect(validateCandles(candles, '1h')).toEqual([]);
    expect(exchange.requests.filter((p) => p === '/api/v3/klines')).toHaveLength(3);
    await expect(data.candlesFor(spec('NOPEUSDT', 10))).rejects.toMatchObject({ errorType: 'bad_data', message: expect.stringMatching(/Invalid symbol/) });
  });

  it('needs an exchange URL to use the exchange', () => {
    expect(() => agentEnv.parse({ AGENT_DATA_SOURCE: 'exchange' })).toThrow(/EXCHANGE_API_URL/);
  });
});
