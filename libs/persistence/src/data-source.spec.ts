import { DataSource, EntitySchema, MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource, initializeDataSource } from '@trainyard/persistence';
import { createTestDatabase, TestDatabase } from '@trainyard/testing';

interface Item {
  id: number;
  name: string;
}

function itemsIn(schema: string) {
  const entity = new EntitySchema<Item>({
    name: `${schema}_item`,
    tableName: 'items',
    columns: { id: { type: 'int', primary: true }, name: { type: 'text' } },
  });
  class CreateItems1700000000000 implements MigrationInterface {
    name = 'CreateItems1700000000000';
    async up(q: QueryRunner) {
      // Widens the window in which two replicas would both see this migration as pending.
      await q.query('SELECT pg_sleep(0.2)');
      await q.query(`CREATE TABLE "${schema}".items (id int PRIMARY KEY, name text NOT NULL)`);
    }
    async down(q: QueryRunner) {
      await q.query(`DROP TABLE "${schema}".items`);
    }
  }
  return { entity, migration: CreateItems1700000000000 };
}

function dataSourceFor(url: string, schema: string): DataSource {
  const { entity, migration } = itemsIn(schema);
  return createDataSource({ url, schema, entities: [entity], migrations: [migration], poolSize: 3 });
}

describe('createDataSource + initializeDataSource on PostgreSQL', () => {
  let db: TestDatabase;
  const open: DataSource[] = [];
  const track = (ds: DataSource) => (open.push(ds), ds);

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await Promise.all(open.filter((ds) => ds.isInitialized).map((ds) => ds.destroy()));
    await db.drop();
  });

  it('applies each service’s migrations in its own schema, idempotently', async () => {
    const a = await initializeDataSource(track(dataSourceFor(db.url, 'svc_a')));
    const b = await initializeDataSource(track(dataSourceFor(db.url, 'svc_b')));

    const tables = await a.query(
      `SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_schema IN ('svc_a', 'svc_b') ORDER BY 1, 2`,
    );
    expect(tables).toEqual([
      { table_schema: 'svc_a', table_name: 'items' },
      { table_schema: 'svc_a', table_name: 'migrations' },
      { table_schema: 'svc_b', table_name: 'items' },
      { table_schema: 'svc_b', table_name: 'migrations' },
    ]);

    await a.getRepository<Item>('svc_a_item').insert({ id: 1, name: 'only in a' });
    expect(await b.getRepository<Item>('svc_b_item').count()).toBe(0);
    expect(await a.query('SELECT name FROM svc_a.items')).toEqual([{ name: 'only in a' }]);

    const again = await initializeDataSource(track(dataSourceFor(db.url, 'svc_a')));
    expect(await again.query('SELECT name FROM svc_a.migrations')).toEqual([{ name: 'CreateItems1700000000000' }]);
    expect(await again.getRepository<Item>('svc_a_item').count()).toBe(1);
  });

  it('lets two replicas initialize the same schema at once', async () => {
    const [first, second] = await Promise.all([initializeDataSource(track(dataSourceFor(db.url, 'svc_c'))), initializeDataSource(track(dataSourceFor(db.url, 'svc_c')))]);
    expect(await first.query('SELECT count(*)::int AS n FROM svc_c.migrations')).toEqual([{ n: 1 }]);
    expect(await second.getRepository<Item>('svc_c_item').count()).toBe(0);
  });

  it('refuses a schema name it would have to quote', () => {
    expect(() => dataSourceFor(db.url, 'Svc-A')).toThrow(/schema "Svc-A"/);
  });
});
