import { DataSource, QueryRunner } from 'typeorm';
import { createDataSource, initializeDataSource, statementName, statementNamingOf, STATISTICS_MIN_STATEMENTS, TableStatistics } from '@trainyard/persistence';
import { createTestDatabase, TestDatabase } from '@trainyard/testing';

const LOOKUP = 'SELECT n FROM svc_stats.items WHERE id = $1';

/** The plan the connection's named statement for LOOKUP runs with now (its generic plan, once chosen). */
async function planOf(runner: QueryRunner): Promise<string> {
  const rows = (await runner.query(`EXPLAIN EXECUTE ${statementName(LOOKUP)}('k1')`)) as { 'QUERY PLAN': string }[];
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

describe('TableStatistics on PostgreSQL', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let runner: QueryRunner;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    if (runner && !runner.isReleased) await runner.release();
    if (ds?.isInitialized) await ds.destroy();
  });

  afterAll(async () => {
    await db.drop();
  });

  /** A new table of 5 rows, and a connection whose named LOOKUP has settled on a plan made for that size. */
  async function smallTableWithSettledPlan(preparedStatements = true) {
    ds = await initializeDataSource(createDataSource({ url: db.url, schema: 'svc_stats', entities: [], migrations: [], poolSize: 3, preparedStatements }));
    await ds.query('DROP TABLE IF EXISTS svc_stats.items');
    await ds.query('CREATE TABLE svc_stats.items (id text PRIMARY KEY, n int NOT NULL, pad text NOT NULL)');
    await ds.query(`INSERT INTO svc_stats.items SELECT 'k' || i, i, repeat('x', 100) FROM generate_series(1, 5) i`);
    // As autovacuum would have, while the table was small: its statistics say five rows in a page.
    await ds.query('ANALYZE svc_stats.items');
    runner = ds.createQueryRunner();
    // PostgreSQL plans a named statement's first five runs for their values, then keeps a generic plan.
    for (let i = 0; i < 8; i++) expect(await runner.query(LOOKUP, ['k1'])).toEqual([{ n: 1 }]);
    return new TableStatistics(ds, 'svc_stats', statementNamingOf(ds)!);
  }

  let grown = 0;
  const grow = (rows: number) =>
    ds.query(`INSERT INTO svc_stats.items SELECT 'g' || i, i, repeat('x', 100) FROM generate_series($1::int + 1, $1::int + $2::int) i`, [grown, rows]).then(() => (grown += rows));

  it('analyzes a table that outgrew the plans made for it, so that its statements are planned again for its size', async () => {
    const statistics = await smallTableWithSettledPlan();
    expect(await planOf(runner)).toMatch(/Seq Scan on items/);
    await grow(20_000);
    // Without a new look at the table, the plan made for five rows reads all 20,005.
    expect(await planOf(runner)).toMatch(/Seq Scan on items/);

    expect(await statistics.check()).toEqual(['svc_stats.items']);
    expect(await planOf(runner)).toMatch(/Index Scan using items_pkey on items/);
    expect(await runner.query(LOOKUP, ['k1'])).toEqual([{ n: 1 }]);
  });

  it('looks only after the service has sent statements since its last look, and analyzes a table again only once it has doubled', async () => {
    const statistics = await smallTableWithSettledPlan();
    await grow(20_000);
    expect(await statistics.check()).toEqual(['svc_stats.items']);
    await grow(20_000);
    // One statement since the look: it does not look yet.
    expect(await statistics.check()).toEqual([]);
    for (let i = 0; i < STATISTICS_MIN_STATEMENTS; i++) await runner.query(LOOKUP, ['k1']);
    // Doubled since the last ANALYZE: analyzed again.
    expect(await statistics.check()).toEqual(['svc_stats.items']);

    await grow(1_000);
    for (let i = 0; i < STATISTICS_MIN_STATEMENTS; i++) await runner.query(LOOKUP, ['k1']);
    // Grown by a fortieth: left to autovacuum.
    expect(await statistics.check()).toEqual([]);
  });

  it('looks once at a time, however often it is asked', async () => {
    const statistics = await smallTableWithSettledPlan();
    await grow(20_000);
    const [first, second] = await Promise.all([statistics.check(), statistics.check()]);
    expect(first).toEqual(['svc_stats.items']);
    expect(second).toBe(first);
  });

  it('does nothing where statements are not prepared (DATABASE_PREPARED_STATEMENTS off, or the embedded PGlite): each is planned for its values', async () => {
    const statistics = await smallTableWithSettledPlan(false);
    await grow(20_000);
    for (let i = 0; i < STATISTICS_MIN_STATEMENTS; i++) await runner.query(LOOKUP, ['k1']);
    expect(await statistics.check()).toEqual([]);
  });
});
