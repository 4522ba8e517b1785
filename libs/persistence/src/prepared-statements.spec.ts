import { DataSource } from 'typeorm';
import { createDataSource, initializeDataSource, PREPARED_PER_CONNECTION, statementName, statementNamingOf } from '@trainyard/persistence';
import { createTestDatabase, TestDatabase } from '@trainyard/testing';

const open = (url: string, preparedStatements?: boolean) => createDataSource({ url, schema: 'svc_p', entities: [], migrations: [], poolSize: 2, preparedStatements });

/** The named statements the connection under `run` holds, by name. */
async function preparedOn(ds: DataSource, run: (query: (text: string, values?: unknown[]) => Promise<unknown>) => Promise<void>): Promise<Map<string, string>> {
  const runner = ds.createQueryRunner();
  try {
    await run((text, values) => runner.query(text, values));
    const rows = (await runner.query('SELECT name, statement FROM pg_prepared_statements')) as { name: string; statement: string }[];
    return new Map(rows.map((r) => [r.name, r.statement]));
  } finally {
    await runner.release();
  }
}

describe('prepared statements on PostgreSQL', () => {
  let db: TestDatabase;
  const sources: DataSource[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await Promise.all(sources.filter((ds) => ds.isInitialized).map((ds) => ds.destroy()));
    await db.drop();
  });

  const started = async (preparedStatements?: boolean) => {
    const ds = open(db.url, preparedStatements);
    sources.push(ds);
    return initializeDataSource(ds);
  };

  it('prepares a parameterised statement once per connection, under a name made from its text, and answers as before', async () => {
    const ds = await started();
    expect(statementNamingOf(ds)?.enabled).toBe(true);
    const text = 'SELECT $1::int * 2 AS doubled';
    const answers: unknown[] = [];
    const prepared = await preparedOn(ds, async (query) => {
      for (const n of [1, 2, 3]) answers.push(await query(text, [n]));
      // Without parameters: the simple protocol, nothing prepared.
      answers.push(await query('SELECT 7 AS seven'));
    });
    expect(answers).toEqual([[{ doubled: 2 }], [{ doubled: 4 }], [{ doubled: 6 }], [{ seven: 7 }]]);
    // The pool's connection may hold initializeDataSource's statements too.
    expect(prepared.get(statementName(text))).toBe(text);
    expect([...prepared.values()].filter((s) => s.includes('seven'))).toEqual([]);
  });

  it('keeps a connection usable after a named statement fails, and reports the failure as before', async () => {
    const ds = await started();
    await preparedOn(ds, async (query) => {
      await expect(query('SELECT 1 / $1::int AS q', [0])).rejects.toThrow(/division by zero/);
      expect(await query('SELECT 1 / $1::int AS q', [1])).toEqual([{ q: 1 }]);
      await expect(query('SELECT nonsense FROM $1', [1])).rejects.toThrow(/syntax error/);
      expect(await query('SELECT $1::text AS t', ['still here'])).toEqual([{ t: 'still here' }]);
    });
  });

  it(`prepares at most ${PREPARED_PER_CONNECTION} distinct statements on a connection; the rest run unnamed`, async () => {
    const ds = await started();
    const prepared = await preparedOn(ds, async (query) => {
      for (let i = 0; i < PREPARED_PER_CONNECTION + 10; i++) expect(await query(`SELECT $1::int + ${i} AS v`, [1])).toEqual([{ v: 1 + i }]);
      // One of the first is still named, and run again by its name.
      expect(await query('SELECT $1::int + 0 AS v', [5])).toEqual([{ v: 5 }]);
    });
    expect(prepared.size).toBe(PREPARED_PER_CONNECTION);
    expect(prepared.has(statementName('SELECT $1::int + 0 AS v'))).toBe(true);
    expect(prepared.has(statementName(`SELECT $1::int + ${PREPARED_PER_CONNECTION} AS v`))).toBe(false);
  });

  it('prepares nothing when DATABASE_PREPARED_STATEMENTS is off (a pooler that cannot keep them)', async () => {
    const ds = await started(false);
    expect(statementNamingOf(ds)?.enabled).toBe(false);
    const prepared = await preparedOn(ds, async (query) => {
      expect(await query('SELECT $1::int AS v', [3])).toEqual([{ v: 3 }]);
    });
    expect(prepared.size).toBe(0);
  });
});
