import type { INestApplication } from '@nestjs/common';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@trainyard/persistence';
import { bootTestApp, natsServerBinary, waitFor } from '@trainyard/testing';
import { AppModule } from './app.module';
import { brokerEnv } from './config/broker.config';

jest.setTimeout(120_000);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/**
 * Readiness follows the service's dependencies: a NATS server and a PostgreSQL of the test's own
 * (so stopping them disturbs no other test) go away and come back, and /health/ready follows.
 */
describe('readiness when NATS or the database stops and returns', () => {
  const natsBinary = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'ty-ready-'));
  let natsPort: number;
  let nats: ChildProcess | undefined;
  let pg: EmbeddedPostgres | undefined;
  let pgPort: number;
  let app: INestApplication;
  let url: string;

  const startNats = async () => {
    nats = spawn(natsBinary, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dir, 'nats')], { stdio: 'ignore' });
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = createServer();
          s.once('error', () => resolve(true)).listen(natsPort, '127.0.0.1', () => s.close(() => resolve(false)));
        }),
      'nats-server listening',
    );
  };
  const stopNats = () => new Promise<void>((resolve) => (nats && nats.exitCode === null ? (nats.once('exit', () => resolve()), nats.kill('SIGKILL')) : resolve()));
  const ready = async () => {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as { info?: Record<string, unknown>; error?: Record<string, unknown> } };
  };

  beforeAll(async () => {
    natsPort = await freePort();
    pgPort = await freePort();
    await startNats();
    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: pgPort });
    const config = brokerEnv.parse({ NATS_URL: `nats://127.0.0.1:${natsPort}`, TRAINYARD_PREFIX: 'ready', DATABASE_URL: pg.url, DATABASE_POOL_SIZE: '2' });
    app = await bootTestApp({ imports: [AppModule.forRoot(config)] });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await pg?.stop();
    await stopNats();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is ready, not ready while NATS is down, and ready again when it returns', async () => {
    expect((await ready()).status).toBe(200);
    await stopNats();
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : null;
    }, 'not ready without NATS');
    expect(Object.keys(down.body.error ?? {})).toEqual(['nats']);
    await startNats();
    await waitFor(async () => (await ready()).status === 200, 'ready again with NATS', 30_000, 500);
  });

  it('is not ready while the database is down, and ready again when it returns', async () => {
    await pg!.stop();
    const down = await waitFor(async () => {
      const r = await ready();
      return r.status === 503 ? r : null;
    }, 'not ready without the database');
    expect(Object.keys(down.body.error ?? {})).toEqual(['database']);
    pg = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: pgPort });
    await waitFor(async () => (await ready()).status === 200, 'ready again with the database', 30_000, 500);
  });
});
