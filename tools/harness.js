'use strict';
/** What the chaos and fuzz runners and the benches share: waiting by condition, free ports on loopback, running as a script. */
const { createServer } = require('node:net');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns something truthy; an error marked `fatal` ends the wait at once. */
async function waitFor(check, what, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s${last ? ` (last error: ${last.message})` : ''}`);
}

const bindable = (port) =>
  new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });

/** `count` consecutive free ports below the ephemeral range, so no outgoing connection takes one meanwhile. */
async function freePorts(count) {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * (32000 - 20000 - count));
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => bindable(base + i)));
    if (ok.every(Boolean)) return Array.from({ length: count }, (_, i) => base + i);
  }
}

/** Runs `main` when `mod` is the file node was started with: its result as JSON on stdout, exit status 1 on failure. */
function runAsScript(mod, main) {
  if (require.main !== mod) return;
  main().then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = { sleep, waitFor, freePorts, runAsScript };
