import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519KeyPair, freePort, OpenSshHost, waitFor } from '@trainyard/testing';
import { SshGateway, type SshSession } from './ssh-gateway';

/** Rejects when `ms` pass first, so a promise that would settle only much later fails the spec instead of passing late. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('SshGateway against the system OpenSSH sshd (bash login shell)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-gateway-'));
  let host: OpenSshHost;
  let session: SshSession;
  let reachable: Server;

  beforeAll(async () => {
    const keys = ed25519KeyPair();
    host = await OpenSshHost.start({ home: join(dir, 'home'), state: join(dir, 'state'), env: () => ({}), up: () => true });
    await host.writeKeys([keys.public]);
    await host.startSshd();
    session = await new SshGateway().connect({ host: '127.0.0.1', port: host.port, username: 'root', privateKey: Buffer.from(keys.private), expectedHostKey: host.hostKeySha256 });
    reachable = createServer((socket) => socket.end('answered by the second server\n'));
    await new Promise<void>((resolve) => reachable.listen(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    session?.close();
    reachable?.close();
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a tunnelled connection to the next target when the first refuses it (a cluster node that is down)', async () => {
    const down = await freePort();
    const up = (reachable.address() as { port: number }).port;
    const port = await session.tunnelBack([
      { host: '127.0.0.1', port: down },
      { host: '127.0.0.1', port: up },
    ]);
    const r = await session.exec(`cat < /dev/tcp/127.0.0.1/${port}`, { timeoutMs: 20_000 });
    expect(r.stdout).toBe('answered by the second server\n');
  });

  it('abandons a connect that hangs (packets dropped on the way) when its signal aborts, and leaves no connection open', async () => {
    // Reads and never answers: it sees the client give up, as a paused socket would not.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const open = () => new Promise<number>((resolve, reject) => silent.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    try {
      const stop = new AbortController();
      const connecting = new SshGateway().connect({
        host: '127.0.0.1',
        port: (silent.address() as { port: number }).port,
        username: 'root',
        privateKey: Buffer.from(ed25519KeyPair().private),
        expectedHostKey: null,
        signal: stop.signal,
      });
      await waitFor(async () => (await open()) === 1, 'the connection hanging on the silent server');
      stop.abort('the broker is stopping');
      // Before ssh2's 20 s ready timeout could have ended it.
      await expect(within(10_000, connecting)).rejects.toThrow(/abandoned \(the broker is stopping\)/);
      await waitFor(async () => (await open()) === 0, 'the hanging connection closed', 10_000);
    } finally {
      silent.close();
    }
  });

  it('closes the tunnelled connection when no target accepts it', async () => {
    const port = await session.tunnelBack([{ host: '127.0.0.1', port: await freePort() }]);
    const r = await session.exec(`cat < /dev/tcp/127.0.0.1/${port}; echo "exit $?"`, { timeoutMs: 20_000 });
    expect(r.stdout).toBe('exit 0\n');
  });
});
