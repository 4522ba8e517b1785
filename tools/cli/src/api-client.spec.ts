import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callApi } from './api-client';

/** The CLI's requests against a real HTTP server: what it sends, what it makes of each answer. */
describe('callApi', () => {
  let server: Server;
  let baseUrl: string;
  const seen: Array<{ method: string; url: string; authorization?: string; contentType?: string; body: string }> = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  beforeEach(() => {
    seen.length = 0;
  });

  it('sends the token and the JSON body, and reads a JSON answer', async () => {
    answer = (_req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"version":3}');
    const res = await callApi({ service: 'promoter', baseUrl, token: 's3cret' }, 'POST', '/models/BTCUSDT/promote?variant=bull', { version: 3, reason: 'ok' });
    expect(res.status).toBe(201);
    expect(res.json()).toEqual({ version: 3 });
    expect(seen).toEqual([{ method: 'POST', url: '/models/BTCUSDT/promote?variant=bull', authorization: 'Bearer s3cret', contentType: 'application/json', body: '{"version":3,"reason":"ok"}' }]);
  });

  it('sends no token or body when it has none, and hands back a binary answer byte for byte', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0x0d, 0x0a]);
    answer = (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    const res = await callApi({ service: 'scheduler', baseUrl }, 'GET', '/experiments/x/chart.png');
    expect(res.body.equals(png)).toBe(true);
    expect(seen[0]).toEqual({ method: 'GET', url: '/experiments/x/chart.png', body: '' });
  });

  it("says what the service refused: its field issues, its messages, or the answer's text", async () => {
    answer = (_req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ issues: [{ field: 'symbol', reason: 'not a symbol' }] }));
    await expect(callApi({ service: 'promoter', baseUrl }, 'GET', '/models/x')).rejects.toThrow('promoter refused (400): symbol: not a symbol');
    answer = (_req, res) => res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ message: ['one', 'two'] }));
    await expect(callApi({ service: 'promoter', baseUrl }, 'GET', '/models/x')).rejects.toThrow('promoter refused (409): one; two');
    answer = (_req, res) => res.writeHead(502).end('bad gateway from the proxy');
    await expect(callApi({ service: 'scheduler', baseUrl }, 'GET', '/runs')).rejects.toThrow('scheduler refused (502): bad gateway from the proxy');
    answer = (_req, res) => res.writeHead(401).end();
    await expect(callApi({ service: 'scheduler', baseUrl }, 'GET', '/runs')).rejects.toThrow('scheduler refused (401): status 401');
  });

  it('says the service cannot be reached, and where', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await expect(callApi({ service: 'scheduler', baseUrl: url }, 'GET', '/runs')).rejects.toThrow(
      new RegExp(`^cannot reach the scheduler at ${url} \\(connect ECONNREFUSED .+\\); is the stack up\\?$`),
    );
    await expect(callApi({ service: 'scheduler', baseUrl: 'ftp://127.0.0.1/' }, 'GET', '/runs')).rejects.toThrow('cannot reach the scheduler at ftp://127.0.0.1/ (ftp: is not http: or https:)');
  });
});
