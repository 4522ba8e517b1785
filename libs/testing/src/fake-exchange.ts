import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeTicker {
  symbol: string;
  quoteVolume: number;
  bidPrice: number;
  askPrice: number;
}

const INTERVAL_MS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '4h': 14_400_000, '1d': 86_400_000 };

export interface FakeExchange {
  url: string;
  /** Paths requested so far, for tests that check what was asked. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A stand-in for an exchange's public market data API on loopback, answering the routes and shapes
 * of Binance's spot API: GET /api/v3/ticker/24hr and /api/v3/ticker/bookTicker (all symbols, numbers
 * as strings) and GET /api/v3/klines (symbol, interval, endTime, limit up to 1000; deterministic
 * prices). Unknown symbols get Binance's 400 error body, other paths a 404.
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
    if (path === '/api/v3/klines') {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const symbol = q.get('symbol') ?? '';
      const step = INTERVAL_MS[q.get('interval') ?? ''];
      if (!tickers.some((t) => t.symbol === symbol)) return send(400, { code: -1121, msg: 'Invalid symbol.' });
      if (!step) return send(400, { code: -1120, msg: 'Invalid interval.' });
      const limit = Math.min(1000, Number(q.get('limit') ?? 500));
      const endTime = Number(q.get('endTime') ?? Date.now());
      const lastOpen = Math.floor((endTime - step + 1) / step) * step;
      const rows = [];
      for (let open = lastOpen - (limit - 1) * step; open <= lastOpen; open += step) {
        const price = 100 + 10 * Math.sin(open / step / 50) + ((open / step) % 7);
        rows.push([open, price.toFixed(4), (price * 1.01).toFixed(4), (price * 0.99).toFixed(4), (price + 0.5).toFixed(4), '1000.0', open + step - 1, '100000.0', 10, '500.0', '50000.0', '0']);
      }
      return send(200, rows);
    }
    if (path === '/api/v3/ticker/bookTicker') {
      return send(
        200,
        tickers.map((t) => ({ symbol: t.symbol, bidPrice: String(t.bidPrice), bidQty: '1.00000000', askPrice: String(t.askPrice), askQty: '1.00000000' })),
      );
    }
    send(404, { code: -1100, msg: `unknown path ${path}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
