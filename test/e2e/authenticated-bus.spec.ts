import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, freePort, testPrefix, waitFor, type TestDatabase } from '@trainyard/testing';
import { LocalStack, SERVICES } from '../../tools/cli/src/local-stack';
import { OutsideClient } from './outside-client';
import { freeBasePort } from './system-under-test';

jest.setTimeout(240_000);

/**
 * `trainyard up` on a machine without NATS: it starts nats-server with the generated least-privilege
 * configuration, each service connects with its role's key, and an outside client holding only the
 * requester key, written from docs/events alone, runs a training to completion.
 */
describe('the whole system on an authenticated bus (generated nats-server configuration)', () => {
  const prefix = testPrefix('auth');
  const dataDir = mkdtempSync(join(tmpdir(), 'trainyard-auth-e2e-'));
  let db: TestDatabase;
  let stack: LocalStack;
  let requester: OutsideClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = new LocalStack({
      root: resolve(__dirname, '../..'),
      log: () => undefined,
      env: {
        ...process.env,
        NATS_URL: `nats://127.0.0.1:${await freePort()}`,
        TRAINYARD_PREFIX: prefix,
        DATABASE_URL: db.url,
        DATA_DIR: dataDir,
        TRAINYARD_BASE_PORT: String(await freeBasePort(5)),
        AGENT_ID: `agent-${prefix}`,
        AGENT_NVIDIA_SMI: 'none',
        AGENT_CPU_SLOTS: '2',
        AGENT_HEARTBEAT_MS: '500',
        SCHEDULER_TICK_MS: '300',
        SCHEDULER_LOOKBACK_CANDLES: '1000',
        BROKER_TICK_MS: '300',
      },
    });
    await stack.start();
    requester = await OutsideClient.connect(stack.env.NATS_URL!, prefix, stack.seedOf('requester')!);
  });

  afterAll(async () => {
    await requester?.close();
    await stack?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('trains and promotes two symbols with every service on its own role, and no permission is ever refused', async () => {
    // Written from docs/events alone: the subject, the envelope, the request's id on the completion.
    const { requestId, completed } = await requester.run({ runId: 'auth-run', trigger: 'api', date: '2026-11-22', symbols: ['BTCUSDT', 'ETHUSDT'], promote: 'auto' }, 180_000);
    expect(completed).toMatchObject({ runId: 'auth-run', status: 'succeeded', requestId, summary: { succeeded: 2, failed: 0 } });
    // The promoter, on its own role, registered and promoted both first models.
    const models = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${stack.portOf({ name: 'promoter' })}/models?stage=production`, { headers: { authorization: `Bearer ${stack.apiToken}` } });
      const body = (await res.json()) as { items?: { symbol: string }[] } | { symbol: string }[];
      const items = Array.isArray(body) ? body : (body.items ?? []);
      return items.length === 2 ? items : null;
    }, 'both symbols in production');
    expect(models.map((m) => m.symbol).sort()).toEqual(['BTCUSDT', 'ETHUSDT']);

    const logs = ['nats-server', ...SERVICES.map((s) => s.name)].map((name) => join(dataDir, 'logs', `${name}.log`)).filter(existsSync);
    for (const file of logs)
      expect({
        file,
        violations: readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => /violation/i.test(l)),
      }).toEqual({ file, violations: [] });
  });
});
