import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';

// Binance spot market data (public, no key): GET /api/v3/ticker/24hr and /api/v3/ticker/bookTicker.
const Ticker24h = z.array(z.object({ symbol: z.string(), quoteVolume: z.string() }).passthrough());
const BookTicker = z.array(z.object({ symbol: z.string(), bidPrice: z.string(), askPrice: z.string() }).passthrough());

/** The exchange could not answer now: worth trying again later, unlike a bad request. */
export class ExchangeUnavailableError extends Error {
  override readonly name = 'ExchangeUnavailableError';
}

/**
 * An exchange's public market data API in Binance's shape, at a configurable base URL, so the same
 * code runs against the exchange and against a stand-in on loopback.
 */
@Injectable()
export class ExchangeClient {
  constructor(@Inject(SCHEDULER_CONFIG) private readonly cfg: SchedulerConfig) {}

  get configured(): boolean {
    return Boolean(this.cfg.EXCHANGE_API_URL);
  }

  private async get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    // Relative to the base, so a base URL with a path (a proxy, a stand-in) keeps it.
    const base = this.cfg.EXCHANGE_API_URL!;
    const url = new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`);
    const res = await fetch(url, { signal: AbortSignal.timeout(15_000) }).catch((err) => {
      throw new ExchangeUnavailableError(`exchange unreachable for GET ${url.pathname}: ${(err as Error).message}`);
    });
    if (res.status >= 500 || res.status === 429) throw new ExchangeUnavailableError(`exchange answered ${res.status} to GET ${url.pathname}`);
    if (!res.ok) throw new Error(`exchange answered ${res.status} to GET ${url.pathname}`);
    const parsed = schema.safeParse(await res.json());
    if (!parsed.success) throw new Error(`unexpected answer from GET ${url.pathname}: ${parsed.error.issues[0]?.message ?? parsed.error.message}`);
    return parsed.data;
  }

  /** Symbols quoted in `quote`, by 24h quote volume, largest first. */
  async rankedByVolume(quote: string): Promise<string[]> {
    const tickers = await this.get('/api/v3/ticker/24hr', Ticker24h);
    return tickers
      .filter((t) => t.symbol.endsWith(quote))
      .map((t) => ({ symbol: t.symbol, volume: Number(t.quoteVolume) }))
      .filter((t) => Number.isFinite(t.volume))
      .sort((a, b) => b.volume - a.volume || a.symbol.localeCompare(b.symbol))
      .map((t) => t.symbol);
  }

  /** Current bid/ask spread of each symbol in basis points of the mid price. */
  async spreadsBps(symbols: string[]): Promise<Map<string, number>> {
    const wanted = new Set(symbols);
    const books = await this.get('/api/v3/ticker/bookTicker', BookTicker);
    const spreads = new Map<string, number>();
    for (const b of books) {
      if (!wanted.has(b.symbol)) continue;
      const bid = Number(b.bidPrice);
      const ask = Number(b.askPrice);
      if (bid > 0 && ask >= bid) spreads.set(b.symbol, ((ask - bid) / ((ask + bid) / 2)) * 10_000);
    }
    return spreads;
  }
}
