/** What the worker needs; module paths are resolved by the parent so the worker finds the same copies. */
export interface PgliteServerData {
  pglite: string;
  pgliteSocket: string;
  dataDir: string;
  host: string;
  port: number;
  maxConnections: number;
  /** PostgreSQL's shared_buffers, e.g. '32MB'. */
  sharedBuffers: string;
}

/**
 * A fresh folder's initdb, as source text for a child process of its own (argv: the pglite module,
 * the folder). Creating the cluster grows PGlite's memory to ~800 MB, which a process keeps after
 * the cluster is closed; the serving worker then opens a cluster that exists and stays near 200 MB.
 */
export const PGLITE_INITDB_SCRIPT = `
const [pglite, dataDir] = process.argv.slice(1);
require(pglite).PGlite.create(dataDir).then((db) => db.close()).catch((err) => {
  console.error((err && err.stack) || String(err));
  process.exit(1);
});
`;

/**
 * A fresh folder from the build's template (argv: the gzipped tar, the folder), as source text for a
 * child process of its own, so the unpacked tar's memory leaves with it. A plain untar: PGlite's own
 * loadDataDir started PostgreSQL in WebAssembly only to write the same files, three seconds of an
 * embedded start's four and a half. Only files and folders, only inside the folder; the dump's
 * postmaster.pid (taken while the template's PGlite ran) is left out, and PG_VERSION, which marks a
 * folder as a cluster, is written last, so an unpacking cut short is done again on the next start.
 */
export const PGLITE_UNPACK_SCRIPT = `
try {
  const [template, dataDir] = process.argv.slice(1);
  const fs = require('node:fs');
  const path = require('node:path');
  const tar = require('node:zlib').gunzipSync(fs.readFileSync(template));
  const root = path.resolve(dataDir);
  const field = (header, from, length) => {
    const bytes = header.subarray(from, from + length);
    const end = bytes.indexOf(0);
    return bytes.subarray(0, end < 0 ? length : end).toString('utf8');
  };
  const octal = (header, from, length) => parseInt(field(header, from, length).trim() || '0', 8);
  let version = null;
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const prefix = field(header, 257, 5) === 'ustar' ? field(header, 345, 155) : '';
    const name = (prefix ? prefix + '/' : '') + field(header, 0, 100);
    const size = octal(header, 124, 12);
    const mode = octal(header, 100, 8) & 0o777;
    const type = String.fromCharCode(header[156] || 48);
    const target = path.resolve(root, name.replace(/^\\/+/, ''));
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error('the template names a path outside the cluster: ' + name);
    at += 512;
    if (type === '5') fs.mkdirSync(target, { recursive: true, mode: mode || 0o700 });
    else if (type === '0') {
      const body = tar.subarray(at, at + size);
      if (target === path.join(root, 'PG_VERSION')) version = { body, mode };
      else if (path.basename(target) !== 'postmaster.pid') {
        fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
        fs.writeFileSync(target, body, { mode: mode || 0o600 });
      }
    } else throw new Error('the template holds an entry of type ' + type + ' (' + name + '): only files and folders are expected');
    at += Math.ceil(size / 512) * 512;
  }
  if (!version) throw new Error('the template holds no PG_VERSION: not a cluster');
  fs.writeFileSync(path.join(root, 'PG_VERSION'), version.body, { mode: version.mode || 0o600 });
} catch (err) {
  // The reason alone: it ends up in the error the embedded start throws.
  console.error(err.message);
  process.exit(1);
}
`;

/**
 * Makes an empty cluster in memory and writes its gzipped tar to argv[2] (through a .part file), for
 * new clusters to be unpacked from instead of running initdb.
 */
export const PGLITE_TEMPLATE_SCRIPT = `
const [pglite, out] = process.argv.slice(1);
const fs = require('node:fs');
(async () => {
  const db = await require(pglite).PGlite.create();
  const dump = await db.dumpDataDir('gzip');
  await db.close();
  fs.writeFileSync(out + '.part', Buffer.from(await dump.arrayBuffer()));
  fs.renameSync(out + '.part', out);
})().catch((err) => {
  console.error((err && err.stack) || String(err));
  process.exit(1);
});
`;

/** The worker's replies: its port once listening, `stopped` after a stop request, or what went wrong. */
export type PgliteServerMessage = { port: number } | { stopped: true } | { error: string };

/**
 * The worker's code, as source text: a worker needs plain JavaScript, and this library's .ts
 * sources are what runs under Jest. It answers one 'stop' message by closing the socket server
 * (which rolls back a transaction a client left open) and then PGlite, which flushes its files.
 *
 * PGlite has one session. pglite-socket's own queue hands it from client to client after every
 * message, which breaks a client's extended-protocol cycle (Parse, Bind, Execute … Sync) when
 * another client's messages land inside it ("unnamed prepared statement does not exist"). The
 * SessionQueue below keeps the session with one client from its first extended-protocol message to
 * its Sync, and for as long as it holds a transaction open. It replaces the server's queue, which
 * the handlers reach through the server (pglite-socket is pinned for that reason).
 */
export const PGLITE_SERVER_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const { PGLiteSocketServer } = require(workerData.pgliteSocket);

const describe = (err) => (err && err.stack) || String(err);

// Frontend messages that open or continue an extended-protocol cycle; Sync ('S') closes it.
const CYCLE = new Set(['P', 'B', 'D', 'E', 'H', 'C']);

class SessionQueue {
  constructor(db) {
    this.db = db;
    this.queue = [];
    this.owner = null;
    this.processing = false;
  }

  enqueue(handlerId, message, onData) {
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.process();
    });
  }

  next() {
    if (this.owner === null) return this.queue.shift();
    const i = this.queue.findIndex((q) => q.handlerId === this.owner);
    return i === -1 ? undefined : this.queue.splice(i, 1)[0];
  }

  async process() {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let item = this.next(); item; item = this.next()) {
        const type = String.fromCharCode(item.message[0]);
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
          item.resolve(bytes);
        } catch (err) {
          item.reject(err);
        }
        this.owner = CYCLE.has(type) || this.db.isInTransaction() ? item.handlerId : null;
      }
    } finally {
      this.processing = false;
    }
  }

  getQueueLength() {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId) {
    this.queue = this.queue.filter((q) => {
      if (q.handlerId !== handlerId) return true;
      q.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  async clearTransactionIfNeeded(handlerId) {
    if (this.owner !== handlerId) return;
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    this.owner = null;
    await this.process();
  }
}

(async () => {
  const db = await PGlite.create(workerData.dataDir, { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=' + workerData.sharedBuffers] });
  const server = new PGLiteSocketServer({
    db,
    host: workerData.host,
    port: workerData.port,
    maxConnections: workerData.maxConnections,
  });
  server.queryQueue = new SessionQueue(db);
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
