import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeExchange, type FakeExchange } from '@trainyard/testing';
import { schedulerEnv } from '../config/scheduler.config';
import { CostsService } from '../costs/costs.service';
import { ExchangeClient } from '../exchange/exchange-client';
import { UniverseService } from './universe.service';

/** Universe and costs against an exchange stand-in that speaks Binance's public API. */
describe('universe and costs', () => {
  let exchange: FakeExchange;
  const dir = mkdtempSync(join(tmpdir(), 'ty-universe-'));

  beforeAll(async () => {
    exchange = await startFakeExchange([
      { symbol: 'ETHUSDT', quoteVolume: 9e9, bidPrice: 3000, askPrice: 3000.3 },
      { symbol: 'BTCUSDT', quoteVolume: 2e10, bidPrice: 90000, askPrice: 90001.8 },
      { symbol: 'ETHBTC', quoteVolume: 5e10, bidPrice: 0.033, askPrice: 0.0331 },
      { symbol: 'DOGEUSDT', quoteVolume: 1e9, bidPrice: 0.1, askPrice: 0.10005 },
    ]);
  });
  afterAll(() => exchange.close());

  const services = (env: Record<string, string>) => {
    const cfg = schedulerEnv.parse(env);
    const client = new ExchangeClient(cfg);
    return { universe: new UniverseService(client, cfg), costs: new CostsService(client, cfg) };
  };

  it('ranks topN by the exchange 24h quote volume in the configured quote asset', async () => {
    const { universe } = services({ EXCHANGE_API_URL: exchange.url });
    expect((await universe.resolve({ topN: 2 })).symbols).toEqual(['BTCUSDT', 'ETHUSDT']);
    expect(exchange.requests).toContain('/api/v3/ticker/24hr');
  });

  it('prefers a ranked file, and falls back to the built-in list without either', async () => {
    writeFileSync(join(dir, 'u.txt'), 'DOGEUSDT\nADAUSDT\nXRPUSDT\n');
    expect((await services({ EXCHANGE_API_URL: exchange.url, SCHEDULER_UNIVERSE_FILE: join(dir, 'u.txt') }).universe.resolve({ topN: 2 })).symbols).toEqual(['DOGEUSDT', 'ADAUSDT']);
    expect((await services({}).universe.resolve({ topN: 3 })).symbols).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
  });

  it('takes spreads from the exchange book and the configured fee', async () => {
    const costs = await services({ EXCHANGE_API_URL: exchange.url, SCHEDULER_FEE_BPS: '7.5' }).costs.costsFor(['BTCUSDT', 'DOGEUSDT', 'NOPEUSDT']);
    expect(costs.BTCUSDT).toEqual({ feeBps: 7.5, spreadBps: 0.2 });
    expect(costs.DOGEUSDT?.spreadBps).toBeCloseTo(5, 1);
    expect(costs.NOPEUSDT).toEqual({ feeBps: 7.5, spreadBps: 2 });
  });

  it('says what went wrong when the exchange does', async () => {
    const { universe } = services({ EXCHANGE_API_URL: `${exchange.url}/broken/` });
    await expect(universe.resolve({ topN: 2 })).rejects.toThrow(/exchange answered 404/);
  });
});
