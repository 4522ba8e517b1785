/**
 * The suite needs a real NATS with JetStream and a real PostgreSQL. .ci/run starts them; here we
 * only check they answer, so a missing server fails fast with a message instead of timeouts.
 */
const net = require('node:net');

function probe(url, fallbackPort) {
  const u = new URL(url);
  const port = Number(u.port || fallbackPort);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

module.exports = async () => {
  process.env.OTEL_SDK_DISABLED = process.env.OTEL_SDK_DISABLED ?? 'true';
  const nats = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
  const pg = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const missing = [];
  if (!(await probe(nats, 4222))) missing.push(`NATS at ${nats} (start: nats-server -js -a 127.0.0.1 -p 4222 -sd /tmp/nats)`);
  if (!(await probe(pg, 5432))) missing.push(`PostgreSQL at ${pg} (start: pg_ctlcluster 15 main start)`);
  if (missing.length) throw new Error(`test servers not answering: ${missing.join('; ')}. bash .ci/run starts them.`);
};
