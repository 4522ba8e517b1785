import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Server as SshServer, utils, type Connection, type ParsedKey, type ServerChannel } from 'ssh2';
import { serveSftp } from './sftp';

export interface SshHostOptions {
  /** The sandbox dir: HOME and cwd of every command. */
  home: string;
  /** Environment of every command (PATH, HOME and the container's variables). */
  env: () => Record<string, string>;
  /** Public keys (OpenSSH one-line format) currently authorised for root. */
  keys: () => string[];
  /** Whether the container is up; connections are dropped otherwise, as a port nobody listens on would be. */
  up: () => boolean;
}

/**
 * One instance's sshd on loopback: public-key auth for root, exec through /bin/sh in the sandbox, SFTP, remote
 * (tcpip-forward) and local (direct-tcpip) port forwarding. Every command runs in a process group of its own, so that stopping the
 * container can kill it together with whatever it left running in the background.
 */
export class SshHost {
  readonly hostKeySha256: string;
  private readonly tcp: NetServer;
  private readonly ssh: SshServer;
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<Connection>();
  private readonly forwards = new Set<NetServer>();
  private readonly groups = new Set<number>();
  private boundPort = 0;

  private constructor(private readonly opts: SshHostOptions) {
    const hostKey = usableEd25519Pair();
    this.hostKeySha256 = createHash('sha256').update((utils.parseKey(hostKey.public) as ParsedKey).getPublicSSH()).digest('base64');
    this.ssh = new SshServer({ hostKeys: [hostKey.private] }, (conn) => this.serve(conn));
    this.tcp = createServer((socket) => {
      if (!opts.up()) return socket.destroy();
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.ssh.injectSocket(socket);
    });
  }

  static async start(opts: SshHostOptions): Promise<SshHost> {
    const host = new SshHost(opts);
    await new Promise<void>((resolve) => host.tcp.listen(0, '127.0.0.1', resolve));
    host.boundPort = (host.tcp.address() as AddressInfo).port;
    return host;
  }

  get port(): number {
    return this.boundPort;
  }

  /** SIGKILL every process group started over SSH (the container stopping). */
  killProcesses(): void {
    for (const pgid of this.groups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // The group has already ended.
      }
    }
    this.groups.clear();
  }

  /** Drops every connection and forward (the container stopping); the port stays bound for a restart. */
  disconnect(): void {
    for (const conn of this.connections) conn.end();
    for (const socket of this.sockets) socket.destroy();
    for (const f of this.forwards) f.close();
    this.forwards.clear();
  }

  async close(): Promise<void> {
    this.killProcesses();
    this.disconnect();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  private authorised(blob: Buffer): ParsedKey | undefined {
    for (const line of this.opts.keys()) {
      const key = utils.parseKey(line);
      if (!(key instanceof Error) && key.getPublicSSH().equals(blob)) return key;
    }
    return undefined;
  }

  private serve(conn: Connection): void {
    this.connections.add(conn);
    const forwards = new Map<string, NetServer>();
    conn.on('error', () => undefined);
    conn.on('close', () => {
      this.connections.delete(conn);
      for (const f of forwards.values()) {
        f.close();
        this.forwards.delete(f);
      }
    });
    conn.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey' || ctx.username !== 'root') return ctx.reject(['publickey']);
      const key = this.authorised(ctx.key.data);
      if (!key) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether the key would do; accept() answers PK_OK.
      if (ctx.signature && key.verify(ctx.blob ?? Buffer.alloc(0), ctx.signature, ctx.hashAlgo) !== true) return ctx.reject(['publickey']);
      ctx.accept();
    });
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        const env: Record<string, string> = {};
        session.on('env', (accept, _reject, info) => {
          env[info.key] = info.val;
          accept?.();
        });
        session.on('pty', (accept) => accept?.());
        session.on('shell', (_accept, reject) => reject?.());
        session.on('exec', (accept, _reject, info) => this.exec(accept(), info.command, env));
        session.on('sftp', (accept) => serveSftp(accept(), this.opts.home));
      });
      conn.on('request', (accept, reject, name, info) => {
        const key = `${info.bindAddr}:${info.bindPort}`;
        if (name === 'cancel-tcpip-forward') {
          const f = forwards.get(key);
          if (!f) return reject?.();
          f.close();
          forwards.delete(key);
          this.forwards.delete(f);
          return accept?.();
        }
        if (name !== 'tcpip-forward') return reject?.();
        // Whatever address is asked for, only loopback is bound: this is a test host. Half-open sockets let either
        // side finish sending while the other still answers, as sshd's forwards do.
        const listener = createServer({ allowHalfOpen: true }, (socket) => {
          const { port } = listener.address() as AddressInfo;
          socket.on('error', () => undefined);
          conn.forwardOut(info.bindAddr, port, socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0, (err, channel) => {
            if (err) return socket.destroy();
            channel.on('error', () => socket.destroy());
            socket.pipe(channel).pipe(socket);
          });
        });
        listener.once('error', () => reject?.());
        listener.listen(info.bindPort, '127.0.0.1', () => {
          const { port } = listener.address() as AddressInfo;
          forwards.set(`${info.bindAddr}:${port}`, listener);
          this.forwards.add(listener);
          accept?.(port);
        });
      });
      conn.on('tcpip', (accept, reject, info) => {
        const socket = connect({ port: info.destPort, host: info.destIP, allowHalfOpen: true });
        socket.once('error', () => reject());
        socket.once('connect', () => {
          socket.removeAllListeners('error');
          socket.on('error', () => undefined);
          const channel = accept();
          channel.on('error', () => socket.destroy());
          socket.pipe(channel).pipe(socket);
        });
      });
    });
  }

  private exec(channel: ServerChannel, command: string, sessionEnv: Record<string, string>): void {
    const child = spawn('/bin/sh', ['-c', command], { cwd: this.opts.home, env: { ...this.opts.env(), ...sessionEnv }, detached: true, stdio: 'pipe' });
    if (child.pid !== undefined) this.groups.add(child.pid);
    child.stdin.on('error', () => undefined);
    channel.on('error', () => undefined);
    channel.pipe(child.stdin);
    child.stdout.pipe(channel, { end: false });
    child.stderr.pipe(channel.stderr, { end: false });
    child.on('error', (err) => {
      channel.stderr.write(`${err.message}\n`);
      channel.exit(127);
      channel.end();
    });
    // 'close' waits for stdout and stderr to end, as sshd does: a background job that keeps them open keeps the session open.
    child.on('close', (code, signal) => {
      if (code !== null) channel.exit(code);
      else channel.exit(signal ?? 'KILL');
      channel.end();
    });
  }
}

/** ssh2 makes an ed25519 pair it cannot read back about once in 400 tries ("Malformed OpenSSH private key"): draw again. */
export function usableEd25519Pair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) && !(utils.parseKey(pair.public) instanceof Error)) return pair;
  }
}
