import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { Timeframe } from '@trainyard/contracts';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { AttemptError } from '../jobs/training-errors';
import { timeframeMs, type Candle } from '../training/candles';

// Binance spot klines: [openTime, open, high, low, close, volume, closeTime, …] with prices as strings.
const Klines = z.array(z.tuple([z.number(), z.string(), z.string(), z.string(), z.string(), z.string()]).rest(z.unknown()));
const PAGE = 1000;

/**
 * An exchange's public klines API (Binance's shape, at EXCHANGE_API_URL) behind one adapter. Its
 * errors are typed for the attempt: unreachable or a 5xx is a retryable `network` error, a refused
 * symbol or an answer of another shape is `bad_data`, never retried.
 */
@Injectable()
export class KlinesClient {
  constructor(@Inject(AGENT_CONFIG) private readonly cfg: AgentConfig) {}

  get host(): string {
    return new URL(this.baseUrl()).host;
  }

  /** The last `count` candles that open before `end`, paging backwards 1,000 a request. */
  async candlesBefore(symbol: string, timeframe: Timeframe, end: number, count: number): Promise<Candle[]> {
    const pages: Candle[][] = [];
    let got = 0;
    let endTime = end - 1;
    while (got < count) {
      const limit = Math.min(PAGE, count - got);
      const page = await this.page(symbol, timeframe, endTime, limit);
      const [first] = page;
      if (first === undefined) break;
      pages.unshift(page);
      got += page.length;
      endTime = first.openTime - 1;
      if (page.length < limit) break;
    }
    const candles = pages.flat();
    const last = candles[candles.length - 1];
    if (last && last.openTime + timeframeMs(timeframe) > end) throw new AttemptError('bad_data', false, `the exchange returned candles past ${new Date(end).toISOString()}`);
    return candles;
  }

  private async page(symbol: string, timeframe: Timeframe, endTime: number, limit: number): Promise<Candle[]> {
    const base = this.baseUrl();
    const url = new URL('api/v3/klines', base.endsWith('/') ? base : `${base}/`);
    url.search = new URLSearchParams({ symbol, interval: timeframe, endTime: String(endTime), limit: String(limit) }).toString();
    const res = await fetch(url, { signal: AbortSignal.timeout(30_000) }).catch((err) => {
      throw new AttemptError('network', true, `exchange unreachable: ${(err as Error).message}`);
    });
    if (res.status === 400) throw new AttemptError('bad_data', false, `exchange refused ${symbol} ${timeframe}: ${await res.text()}`);
    if (!res.ok) throw new AttemptError('network', true, `exchange answered ${res.status} for klines`);
    const parsed = Klines.safeParse(await res.json());
    if (!parsed.success) throw new AttemptError('bad_data', false, `unexpected klines answer: ${parsed.error.issues[0]?.message ?? parsed.error.message}`);
    return parsed.data.map(([openTime, open, high, low, close, volume]) => ({ openTime, open: Number(open), high: Number(high), low: Number(low), close: Number(close), volume: Number(volume) }));
  }

  private baseUrl(): string {
    if (!this.cfg.EXCHANGE_API_URL) throw new AttemptError('bad_data', false, 'AGENT_DATA_SOURCE=exchange needs EXCHANGE_API_URL');
    return this.cfg.EXCHANGE_API_URL;
  }
}
