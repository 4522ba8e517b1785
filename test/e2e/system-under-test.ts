import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { NatsBus } from '@trainyard/messaging';
import { createTestDatabase, deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor, type TestDatabase } from '@trainyard/testing';
import { LocalStack, SERVICES, type ServiceName } from '../../tools/cli/src/local-stack';

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * The first of `count` consecutive free ports, below Linux's ephemeral range (32768+) so that no
 * outgoing connection of this or another process can take one of them meanwhile.
 */
export async function freeBasePort(count: number): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * (32000 - 20000 - count));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => bindable(base + i)));
    if (free.every(Boolean)) return base;
  }
}

/**
 * The five services as separate processes (built with `npm run build`) on the real NATS and
 * PostgreSQL, with a stream, a database and folders of their own.
 */
export class SystemUnderTest {
  readonly prefix = testPrefix('e2e');
  readonly dataDir = mkdtempSync(join(tmpdir(), 'trainyard-e2e-'));
  readonly artifactsDir = join(this.dataDir, 'artifacts');
  stack!: LocalStack;
  bus!: NatsBus;
  /**
   * Secrets the services are configured with, which no log line may contain: the database password
   * (the test server trusts local connections, so any password works) and the S3 secret key, plus
   * any secret-named variable a spec passes to start().
   */
  readonly secrets: string[] = [];
  private db!: TestDatabase;
  private sql!: Client;

  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    this.db = await createTestDatabase();
    const databaseUrl = new URL(this.db.url);
    if (!databaseUrl.password) databaseUrl.password = `e2e-db-pw-${randomBytes(6).toString('hex')}`;
    const s3Secret = `e2e-s3-secret-${randomBytes(6).toString('hex')}`;
    this.secrets.push(decodeURIComponent(databaseUrl.password), s3Secret);
    for (const [k, v] of Object.entries(extraEnv)) if (/SECRET|TOKEN|PASSWORD|API_KEY/i.test(k) && v) this.secrets.push(v);
    this.stack = new LocalStack({
      root: resolve(__dirname, '../..'),
      log: () => undefined,
      env: {
        ...process.env,
        NATS_URL: testNatsUrl(),
        TRAINYARD_PREFIX: this.prefix,
        DATABASE_URL: databaseUrl.toString(),
        AWS_SECRET_ACCESS_KEY: s3Secret,
        DATA_DIR: this.dataDir,
        ARTIFACTS_DIR: this.artifactsDir,
        TRAINYARD_BASE_PORT: String(await freeBasePort(5)),
        AGENT_ID: `agent-${this.prefix}`,
        AGENT_NVIDIA_SMI: 'none',
        AGENT_CPU_SLOTS: '2',
        AGENT_HEARTBEAT_MS: '500',
        SCHEDULER_TICK_MS: '300',
        SCHEDULER_RETRY_BASE_SECONDS: '1',
        SCHEDULER_LOOKBACK_CANDLES: '1000',
        BROKER_TICK_MS: '300',
        BUS_RETRY_BASE_MS: '200',
        BUS_ACK_WAIT_SECONDS: '5',
        ...extraEnv,
      },
    });
    await this.stack.start();
    this.bus = await NatsBus.connect({ serviceName: 'e2e', natsUrl: testNatsUrl(), prefix: this.prefix });
    this.sql = new Client({ connectionString: this.db.url });
    await this.sql.connect();
  }

  async stop(): Promise<void> {
    await this.sql?.end();
    await this.bus?.onApplicationShutdown();
    await this.stack?.stop();
    await this.db?.drop();
    await deleteTestStream(this.prefix);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Every line each service wrote to its log so far (stdout and stderr), restarts included. */
  serviceLogs(): { service: ServiceName; lines: string[] }[] {
    return SERVICES.map(({ name }) => {
      const file = join(this.stack.dataDir, 'logs', `${name}.log`);
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      return { service: name, lines: text.split('\n').filter((l) => l.length > 0) };
    });
  }

  query<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
    return this.sql.query(text, params).then((r) => r.rows as T[]);
  }

  events(filter: string) {
    return readStored(this.prefix, filter);
  }

  async completion(runId: string, timeoutMs = 90_000) {
    const found = await waitFor(async () => (await this.events('run.completed')).find((e) => e.data.runId === runId), `run.completed of ${runId}`, timeoutMs, 250);
    return found.data;
  }
}
