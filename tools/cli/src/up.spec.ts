import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { canConnect, freePort, natsServerBinary } from '@trainyard/testing';

const ROOT = resolve(__dirname, '../../..');

/** The first of five consecutive loopback ports nothing listens on. */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = await freePort();
    const taken = await Promise.all([0, 1, 2, 3, 4].map((i) => canConnect(base + i)));
    if (!taken.some(Boolean)) return base;
  }
}

describe('trainyard up (the built CLI, its own nats-server on one Go thread, and embedded database)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'trainyard-up-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('fails at once when a service exits while starting, naming it, and stops what it started', async () => {
    const natsPort = await freePort();
    const base = await freeBase();
    // The real nats-server, found on the PATH through a wrapper that notes the Go threads it was given.
    const bin = join(dataDir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'nats-server'), `#!/bin/sh\necho "\${GOMAXPROCS-unset}" > ${join(dataDir, 'gomaxprocs')}\nexec ${natsServerBinary()} "$@"\n`);
    chmodSync(join(bin, 'nats-server'), 0o755);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      DATA_DIR: dataDir,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      TRAINYARD_BASE_PORT: String(base),
      SCHEDULER_TIMEFRAME: '7h',
    };
    delete env.DATABASE_URL;
    delete env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete env.GOMAXPROCS;
    const up = spawn(process.execPath, [join(ROOT, 'tools/cli/bin/trainyard.js'), 'up'], { env });
    let output = '';
    up.stdout.on('data', (b) => (output += b));
    up.stderr.on('data', (b) => (output += b));
    const code = await new Promise<number | null>((done) => up.on('exit', done));

    expect(output).toMatch(/started nats-server/);
    expect(readFileSync(join(dataDir, 'gomaxprocs'), 'utf8').trim()).toBe('1');
    expect(output).toMatch(/trainyard: scheduler: exited \(2\)/);
    expect(code).toBe(1);
    // Nothing it started outlives it: the nats-server and every service's port are closed.
    const ports = [natsPort, base, base + 1, base + 2, base + 3, base + 4];
    const open = await Promise.all(ports.map(canConnect));
    expect(ports.filter((_, i) => open[i])).toEqual([]);
  }, 120_000);
});
