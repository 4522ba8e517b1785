import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { canConnect, freePort } from './ports';
import { waitFor } from './wait-for';

/** nats-server on the PATH, else where Debian puts it (/usr/sbin is often not on a user's PATH); missing is an error, never a skip. */
export function natsServerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/bin', '/usr/bin'];
  for (const d of dirs) if (existsSync(join(d, 'nats-server'))) return join(d, 'nats-server');
  throw new Error('nats-server is not installed (Debian: apt-get install nats-server)');
}

interface Node {
  name: string;
  port: number;
  clusterPort: number;
  storeDir: string;
  child: ChildProcess | null;
}

/**
 * Three (or more) `nats-server -js` processes on loopback joined by routes, each with its own store:
 * a JetStream cluster as users run one. A node can be killed (SIGKILL) and started again on the
 * same port and store. With one node, a lone server of the test's own that it can kill and restart.
 */
export class NatsCluster {
  private constructor(
    private readonly dir: string,
    private readonly nodes: Node[],
  ) {}

  static async start(size = 3): Promise<NatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'trainyard-nats-cluster-'));
    const nodes: Node[] = [];
    for (let i = 0; i < size; i++) {
      const storeDir = join(dir, `n${i + 1}`);
      mkdirSync(storeDir, { recursive: true });
      nodes.push({ name: `n${i + 1}`, port: await freePort(), clusterPort: await freePort(), storeDir, child: null });
    }
    const cluster = new NatsCluster(dir, nodes);
    for (let i = 0; i < size; i++) cluster.spawn(i);
    await cluster.ready();
    return cluster;
  }

  /** The value of NATS_URL for a client of the whole cluster. */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  }

  nodeUrl(i: number): string {
    return `nats://127.0.0.1:${this.node(i).port}`;
  }

  private node(i: number): Node {
    const n = this.nodes[i];
    if (!n) throw new Error(`the NATS cluster has no node ${i} (nodes 0..${this.nodes.length - 1})`);
    return n;
  }

  /** Resolves once every node answers and JetStream has a meta leader (an account info request succeeds). */
  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await Promise.all(this.nodes.filter((n) => n.child).map((n) => canConnect(n.port)))).every(Boolean), 'every NATS node to listen', timeoutMs, 100);
    await waitFor(
      async () => {
        const nc = await connect({ servers: this.url.split(','), reconnect: false, timeout: 2000 });
        try {
          await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
          return true;
        } finally {
          await nc.close();
        }
      },
      'a JetStream meta leader in the cluster',
      timeoutMs,
      250,
    );
  }

  kill(i: number): Promise<void> {
    const n = this.node(i);
    const child = n.child;
    n.child = null;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((done) => {
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  }

  async restart(i: number): Promise<void> {
    await this.kill(i);
    this.spawn(i);
    const n = this.node(i);
    await waitFor(() => canConnect(n.port), `NATS node ${n.name} to listen again`, 30_000, 100);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.kill(i)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private spawn(i: number): void {
    const n = this.node(i);
    const routes = this.nodes.filter((o) => o !== n).map((o) => `nats://127.0.0.1:${o.clusterPort}`);
    const clustering = this.nodes.length > 1 ? ['--cluster_name', 'trainyard-test', '--cluster', `nats://127.0.0.1:${n.clusterPort}`, '--routes', routes.join(',')] : [];
    const out = openSync(join(this.dir, `${n.name}.log`), 'a');
    n.child = spawn(natsServerBinary(), ['-js', '-a', '127.0.0.1', '-p', String(n.port), '-sd', n.storeDir, '-n', n.name, ...clustering], { stdio: ['ignore', out, out] });
  }
}
