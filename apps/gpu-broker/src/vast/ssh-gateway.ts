import { createHash } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { Client, type ClientChannel } from 'ssh2';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  /** The host key seen on first contact; a different one later means another machine answers, and is refused. */
  expectedHostKey: string | null;
  readyTimeoutMs?: number;
  /** Ends a connect still under way (a stopping broker does not wait out a handshake that hangs). */
  signal?: AbortSignal;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  stdin?: Readable | Buffer | string;
  /** The command's channel is closed and the call fails after this long (default 60 s). */
  timeoutMs?: number;
}

/** A remote command that did not finish in time; its channel was closed. */
export class SshTimeoutError extends Error {
  override name = 'SshTimeoutError';
}

const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

/** One SSH connection to an instance: commands, uploads through stdin, and a tunnel back to us. */
export interface SshSession {
  readonly hostKeySha256: string;
  /**
   * Resolves when the command's channel closes, which is when every process holding its stdout or
   * stderr has let go: a command that leaves a background job attached would hang, so every call has
   * a deadline.
   */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Connections to 127.0.0.1:<returned port> on the instance reach `target` on this side; `port` 0 lets the instance pick. */
  /** A port on the remote loopback whose connections reach the first of `targets` that accepts one. */
  tunnelBack(targets: TunnelTarget[], port?: number): Promise<number>;
  onClose(listener: (why: string) => void): void;
  close(): void;
}

export interface TunnelTarget {
  host: string;
  port: number;
}

export const hostKeyFingerprint = (key: Buffer) => createHash('sha256').update(key).digest('base64');

/** The broker's way into rented machines; tests swap it through DI only when they mean to. */
@Injectable()
export class SshGateway {
  connect(target: SshTarget): Promise<SshSession> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let seen = '';
      let settled = false;
      const closeListeners: Array<(why: string) => void> = [];
      const abort = () => {
        if (settled) return;
        settled = true;
        client.destroy();
        reject(new Error(`ssh connect to ${target.host}:${target.port} abandoned (${String(target.signal?.reason ?? 'aborted')})`));
      };
      if (target.signal?.aborted) return abort();
      target.signal?.addEventListener('abort', abort, { once: true });
      client.on('ready', () => {
        target.signal?.removeEventListener('abort', abort);
        if (settled) return void client.destroy();
        settled = true;
        resolve(session(client, seen, closeListeners));
      });
      client.on('error', (err) => {
        target.signal?.removeEventListener('abort', abort);
        if (!settled) {
          settled = true;
          reject(err);
        } else closeListeners.forEach((l) => l(err.message));
      });
      client.on('close', () => closeListeners.forEach((l) => l('connection closed')));
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: target.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          seen = hostKeyFingerprint(key);
          return target.expectedHostKey === null || target.expectedHostKey === seen;
        },
      });
    });
  }
}

function session(client: Client, hostKeySha256: string, closeListeners: Array<(why: string) => void>): SshSession {
  const tunnels = new Map<number, TunnelTarget[]>();
  client.on('tcp connection', (info, accept, reject) => {
    const targets = tunnels.get(info.destPort);
    if (!targets) return reject();
    const channel = accept();
    channel.pause();
    channel.on('error', () => channel.destroy());
    // A cluster node that is down refuses at once; the next one takes the connection.
    const tryTarget = (i: number): void => {
      const target = targets[i];
      if (!target || channel.destroyed) {
        channel.destroy();
        return;
      }
      const socket = netConnect(target.port, target.host);
      socket.once('error', () => {
        socket.destroy();
        tryTarget(i + 1);
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        const end = () => {
          socket.destroy();
          channel.destroy();
        };
        socket.on('error', end);
        channel.on('close', end);
        socket.on('close', end);
        channel.pipe(socket).pipe(channel);
        channel.resume();
      });
    };
    tryTarget(0);
  });
  return {
    hostKeySha256,
    exec: (command, { stdin, timeoutMs = DEFAULT_EXEC_TIMEOUT_MS } = {}) =>
      new Promise((resolve, reject) => {
        client.exec(command, (err, channel: ClientChannel) => {
          if (err) return reject(err);
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let code: number | null = null;
          const timer = setTimeout(() => {
            reject(new SshTimeoutError(`\`${command.slice(0, 120)}\` did not finish within ${timeoutMs / 1000} s`));
            channel.close();
          }, timeoutMs);
          channel.on('data', (d: Buffer) => out.push(d));
          channel.stderr.on('data', (d: Buffer) => errOut.push(d));
          channel.on('exit', (c: number | null) => (code = c));
          channel.on('close', () => {
            clearTimeout(timer);
            resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() });
          });
          if (stdin === undefined) channel.end();
          else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
          else stdin.pipe(channel);
        });
      }),
    tunnelBack: (targets, wanted = 0) =>
      new Promise((resolve, reject) => {
        client.forwardIn('127.0.0.1', wanted, (err, bound) => {
          const port = bound || wanted;
          if (err) return reject(err);
          tunnels.set(port, targets);
          resolve(port);
        });
      }),
    onClose: (listener) => closeListeners.push(listener),
    close: () => client.end(),
  };
}
