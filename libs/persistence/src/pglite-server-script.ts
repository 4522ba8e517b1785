/** What the worker needs; module paths are resolved by the parent so the worker finds the same copies. */
export interface PgliteServerData {
  pglite: string;
  pgliteSocket: string;
  dataDir: string;
  host: string;
  port: number;
  maxConnections: number;
}

/** The worker's replies: its port once listening, `stopped` after a stop request, or what went wrong. */
export type PgliteServerMessage = { port: number } | { stopped: true } | { error: string };

/**
 * The worker's code, as source text: a worker needs plain JavaScript, and this library's .ts
 * sources are what runs under Jest. It answers one 'stop' message by closing the socket server
 * (which rolls back a transaction a client left open) and then PGlite, which flushes its files.
 */
export const PGLITE_SERVER_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const { PGLiteSocketServer } = require(workerData.pgliteSocket);

const describe = (err) => (err && err.stack) || String(err);

(async () => {
  const db = await PGlite.create(workerData.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: workerData.host,
    port: workerData.port,
    maxConnections: workerData.maxConnections,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  parentPort.once('message', () => {
    server
      .stop()
      .then(() => db.close())
      .then(() => parentPort.postMessage({ stopped: true }), (err) => parentPort.postMessage({ error: describe(err) }));
  });
  parentPort.postMessage({ port: Number(server.getServerConn().split(':').pop()) });
})().catch((err) => parentPort.postMessage({ error: describe(err) }));
`;
