import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTicker {
  symbol: string;
  quoteVolume: number;
  bidPrice: number;
  askPrice: number;
}

export interface FakeExchange {
  url: string;
  /** Paths requested so far, for tests that check what was asked. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A stand-in for an exchange's public market data API on loopback, answering the routes and shapes
 * of Binance's spot API: GET /api/v3/ticker/24hr and GET /api/v3/ticker/bookTicker (all symbols,
 * numbers as strings). Anything else is a 404 with Binance's error body.
 */
export async function startFakeExchange(tickers: FakeTicker[]): Promise<FakeExchange> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { code: -1000, msg: 'method not allowed' });
    if (path === '/api/v3/ticker/24hr') {
      return send(
        200,
        tickers.map((t) => ({
          symbol: t.symbol,
          priceChange: '0.00000000',
          priceChangePercent: '0.000',
          lastPrice: String((t.bidPrice + t.askPrice) / 2),
          bidPrice: String(t.bidPrice),
          askPrice: String(t.askPrice),
          volume: String(t.quoteVolume / ((t.bidPrice + t.askPrice) / 2)),
          quoteVolume: String(t.quoteVolume),
          openTime: 0,
          closeTime: 86_399_999,
          count: 1,
        })),
      );
    }
    if (path === '/api/v3/ticker/bookTicker') {
      return send(200, tickers.map((t) => ({ symbol: t.symbol, bidPrice: String(t.bidPrice), bidQty: '1.00000000', askPrice: String(t.askPrice), askQty: '1.00000000' })));
    }
    send(404, { code: -1100, msg: `unknown path ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
