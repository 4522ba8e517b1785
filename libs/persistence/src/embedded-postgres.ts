import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PGLITE_SERVER_SCRIPT, PgliteServerData, PgliteServerMessage } from './pglite-server-script';

export interface EmbeddedPostgresOptions {
  /** Folder holding the database files; created if absent, reused if present. */
  dataDir: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** Client connections served at once; keep it above the pool size of every DataSource using it. */
  maxConnections?: number;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * PGlite (PostgreSQL compiled to WASM) served over the PostgreSQL wire protocol, so pg and TypeORM
 * connect to it as to any server. It runs in a worker thread: PGlite executes queries
 * synchronously, which would otherwise stall this thread's event loop, and it loads its parts with
 * dynamic import(), which Jest's module sandbox refuses.
 *
 * PGlite has a single backend session: the socket server multiplexes the client connections onto
 * it one message at a time, and while one connection is inside a transaction the others'
 * statements wait until it ends. Session state (SET, advisory locks, temporary tables) is shared by
 * all connections. Only one process may open a dataDir at a time.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const host = opts.host ?? '127.0.0.1';
  const workerData: PgliteServerData = {
    pglite: require.resolve('@electric-sql/pglite'),
    pgliteSocket: require.resolve('@electric-sql/pglite-socket'),
    dataDir,
    host,
    port: opts.port ?? 0,
    // A connection beyond this is refused with a reply pg cannot parse, hence the roomy default.
    maxConnections: opts.maxConnections ?? 32,
  };
  const worker = new Worker(PGLITE_SERVER_SCRIPT, { eval: true, workerData });
  const started = await reply(worker);
  if (!('port' in started)) {
    await worker.terminate();
    throw new Error(`embedded PostgreSQL in ${dataDir} did not start: ${'error' in started ? started.error : 'no port'}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${host}:${started.port}/postgres`,
    port: started.port,
    stop() {
      stopping ??= (async () => {
        worker.postMessage('stop');
        const stopped = await reply(worker);
        await worker.terminate();
        if ('error' in stopped) throw new Error(`embedded PostgreSQL in ${dataDir} did not stop cleanly: ${stopped.error}`);
      })();
      return stopping;
    },
  };
}

function reply(worker: Worker): Promise<PgliteServerMessage> {
  return new Promise((resolve) => {
    const onMessage = (msg: PgliteServerMessage) => settle(msg);
    const onError = (err: Error) => settle({ error: err.stack ?? String(err) });
    const onExit = (code: number) => settle({ error: `worker exited with code ${code}` });
    const settle = (msg: PgliteServerMessage) => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      resolve(msg);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}
