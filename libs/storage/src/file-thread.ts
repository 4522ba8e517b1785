import { Worker } from 'node:worker_threads';

/**
 * Runs in the worker: each request is a whole write (folder made if missing, temporary file, hash,
 * rename) or a whole listing in synchronous file calls, so it costs the caller one hand-off. A file
 * that exists only in part is never left behind: the temporary file is removed when the request fails.
 */
const SCRIPT = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const { dirname } = require('node:path');
const CHUNK = 1024 * 1024;
const chunk = Buffer.allocUnsafe(CHUNK);
function hashFile(path) {
  const hash = createHash('sha256');
  const fd = fs.openSync(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      bytes += n;
      if (n < CHUNK) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}
// The folder is made only when the write says it is missing: most writes go to a folder already there.
function inFolder(path, write) {
  try {
    return write();
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    fs.mkdirSync(dirname(path), { recursive: true });
    return write();
  }
}
// What a writer removes while it is listed is left out, as if listed a moment later.
const unlessGone = (read) => {
  try {
    return read();
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
};
function listFiles(folder, prefix, recursive, out) {
  for (const entry of unlessGone(() => fs.readdirSync(folder, { withFileTypes: true })) ?? []) {
    const path = folder + '/' + entry.name;
    if (entry.isDirectory()) {
      if (recursive) listFiles(path, prefix + entry.name + '/', recursive, out);
    } else if (entry.isFile() && !entry.name.endsWith('.partial')) {
      const info = unlessGone(() => fs.statSync(path));
      if (info) out.push({ name: prefix + entry.name, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
  return out;
}
const ops = {
  list({ dir, recursive }) {
    if (!fs.existsSync(dir)) return null;
    return listFiles(dir, '', recursive, []).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },
  writeAll({ files }) {
    for (const { path, data } of files) inFolder(path, () => fs.writeFileSync(path, data));
  },
  write({ tmp, target, data }) {
    inFolder(tmp, () => fs.writeFileSync(tmp, data));
    fs.renameSync(tmp, target);
  },
  copy({ src, tmp, target }) {
    inFolder(tmp, () => fs.copyFileSync(src, tmp));
    // The copy is hashed, so the checksum describes what was stored even if the source changes meanwhile.
    const stored = hashFile(tmp);
    fs.renameSync(tmp, target);
    return stored;
  },
};
parentPort.on('message', ({ id, op, args }) => {
  try {
    parentPort.postMessage({ id, result: ops[op](args) });
  } catch (err) {
    try { fs.rmSync(args.tmp, { force: true }); } catch {}
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } });
  }
});
`;

export interface ListedFile {
  /** Relative to the folder listed, `/` between folders. */
  name: string;
  size: number;
  mtimeMs: number;
}

export interface FileOps {
  /** The files in `dir` (and below it when `recursive`), by name, without `.partial` ones; null when `dir` does not exist. */
  list: { args: { dir: string; recursive: boolean }; result: ListedFile[] | null };
  /** Each file written where it goes, folders made as needed: for files nothing reads before they are all written. */
  writeAll: { args: { files: Array<{ path: string; data: Buffer | string }> }; result: void };
  /** `data` written to `tmp`, then renamed to `target`. */
  write: { args: { tmp: string; target: string; data: Buffer | string }; result: void };
  /** `src` copied to `tmp`, hashed, then renamed to `target`. */
  copy: { args: { src: string; tmp: string; target: string }; result: { sha256: string; bytes: number } };
}

interface Waiting {
  resolve: (value: never) => void;
  reject: (err: Error) => void;
}

/**
 * A worker thread for file writes and listings (each local store has one, and the agent one for its
 * attempt folders). An asynchronous file call is a round trip through libuv's thread pool, with a
 * wake-up each way, and a put took six to eight of them; here it takes one.
 * Requests run one at a time in the order given: a large file's copy delays the writes after it
 * (a model of 1 GB: about a second). The thread is started on first use and never keeps the process
 * alive; if it dies, what it held fails and the next request starts another.
 */
export class FileThread {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiting>();
  private seq = 0;

  run<K extends keyof FileOps>(op: K, args: FileOps[K]['args']): Promise<FileOps[K]['result']> {
    const worker = this.worker ?? this.start();
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // Held while a request waits, so a process does not exit with a write half done.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ id, op, args });
    });
  }

  /** Stops the thread now: a request still waiting fails (its temporary file may stay). The next request starts another. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    await worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(SCRIPT, { eval: true });
    worker.unref();
    worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: { message: string; code?: string } }) => {
      const waiter = this.waiting.get(id);
      if (!waiter) return;
      this.waiting.delete(id);
      if (this.waiting.size === 0) worker.unref();
      if (error) waiter.reject(Object.assign(new Error(error.message), error.code ? { code: error.code } : {}));
      else waiter.resolve(result as never);
    });
    const died = (why: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const [id, waiter] of this.waiting) {
        this.waiting.delete(id);
        waiter.reject(why);
      }
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the file thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
