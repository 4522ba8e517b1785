import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { canConnect, freePort } from '../ports';

const SSHD = '/usr/sbin/sshd';
/** sshd's privilege separation folder; it refuses to start without it. */
const PRIVSEP_DIR = '/run/sshd';
/** How much of sshd's own log (stderr, -e) is kept for error messages. */
const LOG_TAIL = 8_000;
let tmpCounter = 0;

export interface OpenSshHostOptions {
  /** The instance's home on this machine: bound on /root inside its namespace, so every session starts there. */
  home: string;
  /** The instance's own state folder (host key, sshd_config, passwd, pid file), outside `home`. */
  state: string;
  /** The variables every session gets (sshd's SetEnv), read each time sshd starts. */
  env: () => Record<string, string>;
  /** Whether the container is up; the public port drops connections otherwise, as a port nobody listens on would. */
  up: () => boolean;
}

/** One process in an instance: its pid on this machine and inside the instance's PID namespace. */
export interface OpenSshProcess {
  pid: number;
  nsPid: number;
  cmdline: string;
}

interface Daemon {
  child: ChildProcess;
  /** Host pid of the namespace's PID 1 (sshd), once unshare has forked it. */
  pid1: number | null;
  /** Resolves when unshare has exited, which is after PID 1, and with it every process in the namespace, is gone. */
  exited: Promise<void>;
  done: boolean;
  log: string;
  /** Called on every bit of output and on exit: wakes whoever waits for sshd to listen. */
  poke: () => void;
}

/**
 * One instance's SSH endpoint: the system's OpenSSH sshd with bash as root's login shell, in a mount and PID namespace of
 * its own where the instance's home is bound on /root. Public-key auth for root from `<home>/.ssh/authorized_keys`, exec,
 * shell, SFTP (internal-sftp) and TCP forwarding in both directions are sshd's own.
 *
 * The public port is a Node TCP front that stays bound for the instance's life and pipes to sshd's own loopback port while
 * the container is up, so the port the API reports survives a stop and a start. Stopping the container (killProcesses)
 * kills the namespace's PID 1, and the kernel kills every other process in it; `startSshd()` starts a fresh sshd with the
 * same host key.
 */
export class OpenSshHost {
  readonly hostKeySha256: string;
  private readonly front: NetServer;
  private readonly sockets = new Set<Socket>();
  /** Connections that came while the network is cut: accepted and never answered, as a dropped SYN is. */
  private readonly held = new Set<Socket>();
  private partitioned = false;
  private daemon: Daemon | null = null;
  private starting: Promise<void> | null = null;
  /** Bumped by every kill: a start begun before it gives up. */
  private epoch = 0;
  private startingEpoch = -1;
  private sshdPort = 0;
  private frontPort = 0;
  private closed = false;

  private constructor(
    private readonly opts: OpenSshHostOptions,
    hostKeyPub: string,
  ) {
    const [, keyBase64] = hostKeyPub.trim().split(/\s+/);
    if (keyBase64 === undefined) throw new Error(`the host's public key is not "<type> <base64>": ${hostKeyPub.trim()}`);
    this.hostKeySha256 = createHash('sha256').update(Buffer.from(keyBase64, 'base64')).digest('base64');
    this.front = createServer((socket) => this.accept(socket));
  }

  /** Makes the host key and binds the public port; sshd itself starts with startSshd(). */
  static async start(opts: OpenSshHostOptions): Promise<OpenSshHost> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server (the Vast test server's instances run the system's sshd)`);
    await mkdir(opts.state, { recursive: true, mode: 0o700 });
    await mkdir(opts.home, { recursive: true });
    // sshd's StrictModes refuses keys under a home that others can write to.
    await chmod(opts.home, 0o755);
    const key = join(opts.state, 'ssh_host_ed25519_key');
    if (!existsSync(key)) await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vast-test-instance', '-f', key]);
    const host = new OpenSshHost(opts, await readFile(`${key}.pub`, 'utf8'));
    await new Promise<void>((resolve, reject) => {
      host.front.once('error', reject);
      host.front.listen(0, '127.0.0.1', () => resolve());
    });
    host.frontPort = (host.front.address() as AddressInfo).port;
    return host;
  }

  /** The public port (what the API reports as ssh_port), stable for the instance's life. */
  get port(): number {
    return this.frontPort;
  }

  /** Whether an sshd is running (its namespace alive). */
  get running(): boolean {
    return this.daemon !== null && !this.daemon.done;
  }

  /** sshd's own output (-e), for diagnosing a failed start. */
  get log(): string {
    return this.daemon?.log ?? '';
  }

  /** Replaces root's authorized_keys (`<home>/.ssh/authorized_keys`, 0600). */
  async writeKeys(keys: string[]): Promise<void> {
    const dir = join(this.opts.home, '.ssh');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const file = join(dir, 'authorized_keys');
    const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
    await writeFile(tmp, keys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o600 });
    await rename(tmp, file);
  }

  /**
   * Starts sshd in fresh namespaces unless one is running, and resolves once it accepts connections on its port. Rejects if
   * sshd exits first (its log in the message), or if killProcesses() or close() kills it meanwhile.
   */
  startSshd(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the SSH host is closed'));
    if (this.starting && this.startingEpoch === this.epoch) return this.starting;
    if (!this.starting && this.running) return Promise.resolve();
    // A start that a kill has overtaken ends (failing) before this one begins.
    const previous = this.starting ?? Promise.resolve();
    const epoch = this.epoch;
    const starting: Promise<void> = previous
      .catch(() => undefined)
      .then(() => this.launch(epoch))
      .finally(() => {
        if (this.starting === starting) this.starting = null;
      });
    this.starting = starting;
    this.startingEpoch = epoch;
    return starting;
  }

  /**
   * The container stopping: SIGKILL to the namespace's PID 1, so that the kernel kills every process in the instance, and
   * wait until all of them are gone; a start under way gives up and kills what it started. Connections through the
   * public port end at once.
   */
  async killProcesses(): Promise<void> {
    this.epoch++;
    this.disconnect();
    const pending = this.starting;
    const d = this.daemon;
    d?.poke();
    await Promise.all([d && !d.done ? this.kill(d) : undefined, pending?.catch(() => undefined)]);
  }

  /**
   * Drops every connection sshd answered; the port stays bound for a restart. Those hanging on a cut network hang on: no
   * reset crosses a network that is down.
   */
  disconnect(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /**
   * The network between the instance and the world goes down: open connections are reset, new ones hang unanswered until
   * heal(); the processes inside run on.
   */
  partition(): void {
    this.partitioned = true;
    this.disconnect();
  }

  /** The network is back: what hung during the cut is reset (the client tries again), new connections reach sshd. */
  heal(): void {
    this.partitioned = false;
    this.dropHeld();
  }

  /** Client connections open on the public port now, answered or hanging (an answered one is a pair in `sockets`). */
  get connections(): number {
    return this.held.size + this.sockets.size / 2;
  }

  /** Kills every process in the instance and unbinds the public port. */
  async close(): Promise<void> {
    this.closed = true;
    this.dropHeld();
    await this.killProcesses();
    await new Promise<void>((resolve) => this.front.close(() => resolve()));
  }

  /** The processes in the instance now (none while it is stopped): host pid, pid inside the namespace, command line. */
  processes(): OpenSshProcess[] {
    const d = this.daemon;
    if (!d || d.done || d.pid1 === null) return [];
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${d.pid1}/ns/pid`);
    } catch {
      return [];
    }
    const found: OpenSshProcess[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readlinkSync(`/proc/${entry}/ns/pid`) !== ns) continue;
        const nsPids =
          /^NSpid:\s+(.*)$/m
            .exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]
            ?.trim()
            .split(/\s+/) ?? [];
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
        found.push({ pid: Number(entry), nsPid: Number(nsPids[nsPids.length - 1]), cmdline });
      } catch {
        // It ended while being read.
      }
    }
    return found.sort((a, b) => a.nsPid - b.nsPid);
  }

  private dropHeld(): void {
    for (const socket of this.held) socket.destroy();
    this.held.clear();
  }

  private accept(socket: Socket): void {
    if (this.partitioned) {
      this.held.add(socket);
      // Read and dropped, so that a client giving up is seen.
      socket.resume();
      socket
        .on('error', () => socket.destroy())
        .on('end', () => socket.destroy())
        .on('close', () => this.held.delete(socket));
      return;
    }
    if (!this.opts.up() || !this.running || this.starting) return void socket.destroy();
    const upstream = connect(this.sshdPort, '127.0.0.1');
    this.sockets.add(socket);
    this.sockets.add(upstream);
    const drop = () => {
      socket.destroy();
      upstream.destroy();
      this.sockets.delete(socket);
      this.sockets.delete(upstream);
    };
    socket.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    socket.pipe(upstream).pipe(socket);
  }

  /** SIGKILL to the namespace's PID 1 and wait for unshare to have reaped it, which is after every process in it ended. */
  private async kill(d: Daemon): Promise<void> {
    const pid1 = await this.pid1(d);
    // Without a PID 1 yet, unshare's --kill-child ends it once unshare dies.
    signal(pid1 ?? d.child.pid, 'SIGKILL');
    await d.exited;
  }

  private async launch(epoch: number): Promise<void> {
    const current = () => {
      if (this.epoch !== epoch || this.closed) throw new Error('sshd start cancelled: the instance was stopped');
    };
    // A kill still under way ends first: the new sshd must not share the old one's last moments.
    if (this.daemon && !this.daemon.done) await this.daemon.exited;
    await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
    await writeFile(join(this.opts.state, 'passwd'), passwdWithRoot());
    const shadow = shadowWithRoot();
    if (shadow !== null) await writeFile(join(this.opts.state, 'shadow'), shadow, { mode: 0o600 });
    for (let attempt = 1; ; attempt++) {
      // Reuse sshd's port across restarts; a port taken meanwhile by someone else means another one.
      if (this.sshdPort === 0 || attempt > 1) this.sshdPort = await freePort();
      await writeFile(join(this.opts.state, 'sshd_config'), this.config());
      current();
      const d = this.spawn(shadow !== null);
      try {
        await this.listening(d, current);
        return;
      } catch (err) {
        if (!d.done) await this.kill(d);
        if (this.epoch === epoch && !this.closed && attempt < 5 && /Cannot bind any address|Address already in use/.test(d.log)) continue;
        throw err;
      }
    }
  }

  private spawn(bindShadow: boolean): Daemon {
    const { home, state } = this.opts;
    // Inside the namespaces: the instance's home on /root, a passwd where root's shell is bash, then sshd as PID 1 (which
    // reaps whatever is orphaned inside). setpriv's pdeath signal ends unshare if this process dies, and unshare's
    // --kill-child then ends PID 1, so an aborted test run leaves no instance behind either.
    const script = [
      'set -e',
      'mount --bind "$1" /root',
      'mount --bind "$2/passwd" /etc/passwd',
      'if [ "$3" = 1 ]; then mount --bind "$2/shadow" /etc/shadow; fi',
      `exec ${SSHD} -D -e -f "$2/sshd_config"`,
    ].join('\n');
    const child = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'SIGKILL',
        '--',
        'unshare',
        '--mount',
        '--pid',
        '--fork',
        '--mount-proc',
        '--propagation',
        'private',
        '--kill-child=SIGKILL',
        '--',
        '/bin/sh',
        '-c',
        script,
        'sh',
        home,
        state,
        bindShadow ? '1' : '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const d: Daemon = { child, pid1: null, exited: Promise.resolve(), done: false, log: '', poke: () => undefined };
    const keep = (chunk: Buffer) => {
      d.log = (d.log + chunk.toString()).slice(-LOG_TAIL);
      d.poke();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    d.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        d.log += `\n${err.message}`;
        d.done = true;
        d.poke();
        resolve();
      });
      child.once('exit', () => {
        d.done = true;
        d.poke();
        resolve();
      });
    });
    this.daemon = d;
    return d;
  }

  /** Polls sshd's port until it accepts a connection, trying again at once when sshd says something; never a fixed sleep. */
  private async listening(d: Daemon, current: () => void): Promise<void> {
    const started = Date.now();
    for (let delay = 2; ; delay = Math.min(delay * 2, 25)) {
      current();
      if (d.done) throw new Error(`sshd exited before listening on 127.0.0.1:${this.sshdPort}:\n${d.log}`);
      // sshd says so once it listens; the connect proves it is reachable (and not someone else's port that answered).
      if (d.log.includes('Server listening on') && (await canConnect(this.sshdPort)) && !d.done) {
        await this.pid1(d);
        current();
        return;
      }
      if (Date.now() - started > 15_000) throw new Error(`sshd did not listen on 127.0.0.1:${this.sshdPort} within 15 s:\n${d.log}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), delay);
        d.poke = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      d.poke = () => undefined;
    }
  }

  /** The host pid of the namespace's PID 1: unshare's only child. Null once unshare has exited. */
  private async pid1(d: Daemon): Promise<number | null> {
    const upid = d.child.pid;
    while (d.pid1 === null && !d.done && upid !== undefined) {
      try {
        const children = readFileSync(`/proc/${upid}/task/${upid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        // setpriv execs unshare in place; unshare's first child is PID 1.
        const [first] = children;
        if (first !== undefined) d.pid1 = first;
      } catch {
        // unshare is ending.
      }
      if (d.pid1 === null) await new Promise((r) => setTimeout(r, 1));
    }
    return d.pid1;
  }

  private config(): string {
    const { state } = this.opts;
    const env = this.opts.env();
    const setEnv = Object.entries(env)
      .filter(([k, v]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !/[\0\r\n]/.test(v))
      .map(([k, v]) => `"${`${k}=${v}`.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
    return [
      'ListenAddress 127.0.0.1',
      `Port ${this.sshdPort}`,
      `HostKey ${join(state, 'ssh_host_ed25519_key')}`,
      `PidFile ${join(state, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'AllowTcpForwarding yes',
      'GatewayPorts no',
      'X11Forwarding no',
      'PrintMotd no',
      'PrintLastLog no',
      'StrictModes yes',
      'Subsystem sftp internal-sftp',
      'AuthorizedKeysFile .ssh/authorized_keys',
      'MaxStartups 100:30:200',
      ...(setEnv.length ? [`SetEnv ${setEnv.join(' ')}`] : []),
      '',
    ].join('\n');
  }
}

/** A PATH for sessions: this machine's node first (clients run node agents), then the usual folders. */
export function instancePath(): string {
  const dirs = [dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  return [...new Set(dirs)].join(':');
}

/** /etc/passwd with root's entry made root:/root:/bin/bash, whatever this machine has. */
function passwdWithRoot(): string {
  const root = 'root:x:0:0:root:/root:/bin/bash';
  const lines = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('root:'));
  return [root, ...lines, ''].join('\n');
}

/** /etc/shadow with root's password field '*' (no password, not locked: sshd without PAM refuses a '!' locked account even for keys). */
function shadowWithRoot(): string | null {
  let text: string;
  try {
    text = readFileSync('/etc/shadow', 'utf8');
  } catch {
    return null;
  }
  return text
    .split('\n')
    .map((l) => (l.startsWith('root:') ? l.replace(/^root:[^:]*:/, 'root:*:') : l))
    .join('\n');
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}
