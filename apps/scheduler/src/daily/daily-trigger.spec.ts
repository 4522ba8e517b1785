import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@trainyard/persistence';
import { bootTestApp, deleteTestStream, readStored, testNatsUrl, testPrefix, waitFor } from '@trainyard/testing';
import { AppModule } from '../app.module';
import { schedulerEnv } from '../config/scheduler.config';

jest.setTimeout(60_000);

describe('the daily run from a CSV file in the configuration', () => {
  const prefix = testPrefix('daily');
  const dir = mkdtempSync(join(tmpdir(), 'ty-daily-'));
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    writeFileSync(join(dir, 'universe.csv'), 'rank,symbol\n1,BTCUSDT\n2,ETHUSDT\n3,not a symbol\n');
    const config = schedulerEnv.parse({
      NATS_URL: testNatsUrl(),
      TRAINYARD_PREFIX: prefix,
      DATABASE_URL: db.url,
      ARTIFACTS_DIR: join(dir, 'artifacts'),
      SCHEDULER_DAILY_AT: '00:00',
      SCHEDULER_DAILY_SYMBOLS: join(dir, 'universe.csv'),
    });
    app = await bootTestApp({ imports: [AppModule.forRoot(config)] });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await deleteTestStream(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file on the scheduler and requests the run with its symbols, never the path', async () => {
    const [request] = await waitFor(async () => {
      const r = await readStored(prefix, 'run.requested');
      return r.length ? r : null;
    }, 'the daily run.requested');
    expect(request.data).toMatchObject({ trigger: 'cron', symbols: ['BTCUSDT', 'ETHUSDT'] });
    expect(JSON.stringify(request.data)).not.toContain(dir);
  });
});
