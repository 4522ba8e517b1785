import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { PersistenceModule } from '@trainyard/persistence';
import { createTestDatabase, TestDatabase, waitFor } from '@trainyard/testing';

class CreateThings1700000000000 implements MigrationInterface {
  name = 'CreateThings1700000000000';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE svc_m.things (id int PRIMARY KEY)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE svc_m.things');
  }
}

@Injectable()
class ThingCounter {
  constructor(readonly ds: DataSource) {}
  async count(): Promise<number> {
    const [row] = await this.ds.query('SELECT count(*)::int AS n FROM svc_m.things');
    return row.n;
  }
}

async function bootWith(opts: { url?: string; dataDir?: string }) {
  const moduleRef = await Test.createTestingModule({
    imports: [PersistenceModule.forRoot({ schema: 'svc_m', entities: [], migrations: [CreateThings1700000000000], ...opts })],
    providers: [ThingCounter],
  }).compile();
  return moduleRef.init();
}

// The embedded case creates a PGlite cluster, which takes several seconds.
jest.setTimeout(60_000);

describe('PersistenceModule', () => {
  let db: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'ty-persistence-'));
  });

  afterAll(async () => {
    await db.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('injects a migrated DataSource and destroys it on shutdown', async () => {
    const app = await bootWith({ url: db.url });
    const ds = app.get(DataSource);
    expect(ds.isInitialized).toBe(true);
    expect(await app.get(ThingCounter).count()).toBe(0);
    await app.close();
    expect(ds.isInitialized).toBe(false);
  });

  it("analyzes the schema's tables once they outgrow their statistics, while the service runs", async () => {
    const app = await bootWith({ url: db.url });
    const ds = app.get(DataSource);
    await ds.query('INSERT INTO svc_m.things SELECT generate_series(1, 20000)');
    // The look waits for statements of the service's own since the last one.
    for (let i = 0; i < 100; i++) await ds.query('SELECT $1::int AS n', [i]);
    // analyze_count counts only ANALYZE commands; autovacuum's are autoanalyze_count.
    await waitFor(async () => {
      const [row] = await ds.query(`SELECT analyze_count::int AS n FROM pg_stat_user_tables WHERE relid = 'svc_m.things'::regclass`);
      return row.n > 0;
    }, 'an ANALYZE of svc_m.things');
    await app.close();
  });

  it('starts an embedded PostgreSQL per schema under dataDir when no url is given', async () => {
    const app = await bootWith({ dataDir });
    expect(await app.get(ThingCounter).count()).toBe(0);
    await app.close();
    // Closed cleanly: the same folder opens again with the migration already recorded.
    const again = await bootWith({ dataDir });
    expect(await again.get(DataSource).query('SELECT name FROM svc_m.migrations')).toEqual([{ name: 'CreateThings1700000000000' }]);
    await again.close();
  });
});
