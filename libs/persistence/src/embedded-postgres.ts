import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { PGLITE_INITDB_SCRIPT, PGLITE_SERVER_SCRIPT, PGLITE_TEMPLATE_SCRIPT, PGLITE_UNPACK_SCRIPT, PgliteServerData, PgliteServerMessage } from './pglite-server-script';

/**
 * One stack's tables are small and PGlite reads its files through the OS's page cache, so fewer
 * buffers than PostgreSQL's 128 MB default cost system calls, not disk reads; each MB not reserved
 * is one less in the host's resident memory (128 MB: 262 MB on opening, 32 MB: 192 MB).
 */
const SHARED_BUFFERS = '32MB';

export interface EmbeddedPostgresOptions {
  /** Folder holding the database files; created if absent, reused if present. */
  dataDir: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** Client connections served at once; keep it above the pool size of every DataSource using it. */
  maxConnections?: number;
  /**
   * A new cluster is unpacked from this empty one (`makePgliteTemplate`) instead of made by initdb,
   * when the file exists: the build's by default (`pgliteTemplatePath()`); null runs initdb.
   */
  template?: string | null;
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
  const pglite = require.resolve('@electric-sql/pglite');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const template = opts.template === undefined ? pgliteTemplatePath() : opts.template;
    await initdb(pglite, dataDir, template && existsSync(template) ? template : null);
  }
  const workerData: PgliteServerData = {
    pglite,
    pgliteSocket: require.resolve('@electric-sql/pglite-socket'),
    dataDir,
    host,
    port: opts.port ?? 0,
    // A connection beyond this is refused with a reply pg cannot parse, hence the roomy default.
    maxConnections: opts.maxConnections ?? 32,
    sharedBuffers: SHARED_BUFFERS,
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

/**
 * Creates the cluster in a child process, so the memory it takes leaves with it: unpacked from
 * `template` when given (PGLITE_UNPACK_SCRIPT, a fraction of a second), otherwise PGlite's initdb
 * (PGLITE_INITDB_SCRIPT, seconds).
 */
async function initdb(pglite: string, dataDir: string, template: string | null): Promise<void> {
  try {
    const args = template ? ['-e', PGLITE_UNPACK_SCRIPT, template, dataDir] : ['-e', PGLITE_INITDB_SCRIPT, pglite, dataDir];
    await promisify(execFile)(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`embedded PostgreSQL could not create its cluster in ${dataDir}: ${stderr || (err as Error).message}`);
  }
}

/**
 * Where the build keeps the empty cluster new ones are unpacked from: beside this library's
 * compiled files (from src/ under Jest as from dist/), named for the PGlite version that made it.
 */
export function pgliteTemplatePath(): string {
  const pglite = require.resolve('@electric-sql/pglite');
  let dir = dirname(pglite);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
  return resolve(__dirname, '..', 'dist', `pglite-template-${version}.tar.gz`);
}

/** Writes an empty cluster to `out` (`npm run build` makes the default one once per PGlite version). */
export async function makePgliteTemplate(out = pgliteTemplatePath()): Promise<string> {
  await mkdir(dirname(out), { recursive: true });
  await promisify(execFile)(process.execPath, ['-e', PGLITE_TEMPLATE_SCRIPT, require.resolve('@electric-sql/pglite'), out], { maxBuffer: 16 * 1024 * 1024 });
  return out;
}
