import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import { freePort } from '@trainyard/testing';
import { EntitySchema, MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource, EmbeddedPostgres, initializeDataSource, makePgliteTemplate, startEmbeddedPostgres, statementNamingOf } from '@trainyard/persistence';

interface Note {
  id: number;
  body: string;
}

const NoteEntity = new EntitySchema<Note>({
  name: 'note',
  tableName: 'notes',
  columns: { id: { type: 'int', primary: true }, body: { type: 'text' } },
});

class CreateNotes1700000000000 implements MigrationInterface {
  name = 'CreateNotes1700000000000';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE svc_e.notes (id int PRIMARY KEY, body text NOT NULL)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE svc_e.notes');
  }
}

const dataSourceOn = (url: string) => createDataSource({ url, schema: 'svc_e', entities: [NoteEntity], migrations: [CreateNotes1700000000000], poolSize: 4 });

// Creating a PGlite cluster (initdb in WASM) takes several seconds.
jest.setTimeout(60_000);

describe('startEmbeddedPostgres', () => {
  let dataDir: string;
  let pg: EmbeddedPostgres | undefined;

  beforeAll(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'ty-pglite-')), 'db');
  });

  afterAll(async () => {
    await pg?.stop();
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('serves TypeORM and keeps the data across a restart on the same dataDir', async () => {
    pg = await startEmbeddedPostgres({ dataDir });
    expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
    const first = await initializeDataSource(dataSourceOn(pg.url));
    await first.getRepository(NoteEntity).insert([
      { id: 1, body: 'kept' },
      { id: 2, body: 'also kept' },
    ]);
    await first.destroy();
    await pg.stop();

    pg = await startEmbeddedPostgres({ dataDir });
    const second = await initializeDataSource(dataSourceOn(pg.url));
    const notes = await second.getRepository(NoteEntity).find({ order: { id: 'ASC' } });
    expect(notes.map((n) => n.body)).toEqual(['kept', 'also kept']);
    expect(await second.query('SELECT count(*)::int AS n FROM svc_e.migrations')).toEqual([{ n: 1 }]);
    // Fewer buffers than PostgreSQL's default: the host's memory (embedded-postgres.ts).
    expect(await second.query('SHOW shared_buffers')).toEqual([{ shared_buffers: '32MB' }]);
    await second.destroy();
  });

  it('makes a new cluster from the empty one the build keeps just as initdb does, and keeps its data across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ty-pglite-template-'));
    const template = await makePgliteTemplate(join(dir, 'template.tar.gz'));
    const catalog = async (url: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const settings = await client.query(`SELECT name, setting FROM pg_settings WHERE name IN ('server_encoding', 'lc_collate', 'lc_ctype', 'server_version', 'data_checksums') ORDER BY name`);
        const databases = await client.query(`SELECT datname, pg_encoding_to_char(encoding) AS encoding FROM pg_database ORDER BY datname`);
        const roles = await client.query(`SELECT rolname, rolsuper FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname`);
        return { settings: settings.rows, databases: databases.rows, roles: roles.rows };
      } finally {
        await client.end();
      }
    };
    const made: Record<string, unknown> = {};
    try {
      for (const [name, from] of [
        ['initdb', null],
        ['template', template],
      ] as const) {
        const served = await startEmbeddedPostgres({ dataDir: join(dir, name), template: from });
        try {
          const ds = await initializeDataSource(dataSourceOn(served.url));
          await ds.getRepository(NoteEntity).insert({ id: 1, body: name });
          await ds.destroy();
          made[name] = await catalog(served.url);
        } finally {
          await served.stop();
        }
      }
      expect(made.template).toEqual(made.initdb);
      // Reopened, the unpacked cluster is an ordinary one.
      const again = await startEmbeddedPostgres({ dataDir: join(dir, 'template'), template: null });
      try {
        const ds = await initializeDataSource(dataSourceOn(again.url));
        expect(await ds.getRepository(NoteEntity).find()).toEqual([{ id: 1, body: 'template' }]);
        await ds.destroy();
      } finally {
        await again.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unpacks only files and folders inside the cluster from a template, and leaves no cluster behind when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ty-pglite-untar-'));
    // A ustar entry as PGlite's dump writes them: absolute names, a folder (type 5) or a file (type 0).
    const entry = (name: string, body: Buffer | null, type = body ? '0' : '5') => {
      const header = Buffer.alloc(512);
      header.write(name, 0, 100);
      header.write(body ? '0000640\0' : '0000750\0', 100);
      header.write(`${(body?.length ?? 0).toString(8).padStart(11, '0')}\0`, 124);
      header.write(type, 156);
      header.write('ustar\0', 257);
      const padded = body ? Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]) : Buffer.alloc(0);
      return Buffer.concat([header, padded]);
    };
    const template = async (name: string, entries: Buffer[]) => {
      const path = join(dir, `${name}.tar.gz`);
      await writeFile(path, gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)])));
      return path;
    };
    try {
      const outside = await template('outside', [entry('/base', null), entry('/../escaped', Buffer.from('x')), entry('/PG_VERSION', Buffer.from('18\n'))]);
      await expect(startEmbeddedPostgres({ dataDir: join(dir, 'a', 'db'), template: outside })).rejects.toThrow(
        new RegExp(`^embedded PostgreSQL could not create its cluster in ${join(dir, 'a', 'db')}: the template names a path outside the cluster: /\\.\\./escaped$`),
      );
      expect(existsSync(join(dir, 'a', 'escaped'))).toBe(false);
      expect(existsSync(join(dir, 'a', 'db', 'PG_VERSION'))).toBe(false);
      const link = await template('link', [entry('/base', null), entry('/base/link', Buffer.alloc(0), '2'), entry('/PG_VERSION', Buffer.from('18\n'))]);
      await expect(startEmbeddedPostgres({ dataDir: join(dir, 'b'), template: link })).rejects.toThrow('the template holds an entry of type 2 (/base/link): only files and folders are expected');
      expect(existsSync(join(dir, 'b', 'PG_VERSION'))).toBe(false);
      const empty = await template('empty', [entry('/base', null), entry('/base/1', null)]);
      await expect(startEmbeddedPostgres({ dataDir: join(dir, 'c'), template: empty })).rejects.toThrow('the template holds no PG_VERSION: not a cluster');
      expect(existsSync(join(dir, 'c', 'base', '1'))).toBe(true);
      expect(existsSync(join(dir, 'c', 'PG_VERSION'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lets a service start before its database: refused connections are tried again within the wait, and fail at once without one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ty-pglite-late-'));
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await expect(initializeDataSource(dataSourceOn(url))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const waiting = initializeDataSource(dataSourceOn(url), 120_000);
      const late = await startEmbeddedPostgres({ dataDir: join(dir, 'db'), port });
      try {
        const ds = await waiting;
        expect(await ds.query('SELECT count(*)::int AS n FROM svc_e.migrations')).toEqual([{ n: 1 }]);
        await ds.destroy();
      } finally {
        await late.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prepares no named statements, since every connection shares its one session', async () => {
    const ds = await initializeDataSource(dataSourceOn(pg!.url));
    const runners = [ds.createQueryRunner(), ds.createQueryRunner()];
    try {
      expect(statementNamingOf(ds)?.enabled).toBe(false);
      // The same text on two connections: named, the second one's Parse would meet the first one's statement.
      const answers = await Promise.all(runners.map(async (r, k) => [await r.query('SELECT $1::int + 1 AS v', [k]), await r.query('SELECT $1::int + 1 AS v', [k + 10])]));
      expect(answers).toEqual([
        [[{ v: 1 }], [{ v: 11 }]],
        [[{ v: 2 }], [{ v: 12 }]],
      ]);
      expect(await ds.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).toEqual([{ n: 0 }]);
    } finally {
      await Promise.all(runners.map((r) => r.release()));
      await ds.destroy();
    }
  });

  it('serves several pg clients at once, holding others back while one is in a transaction', async () => {
    const clients: [Client, Client] = [new Client({ connectionString: pg!.url }), new Client({ connectionString: pg!.url })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const [a, b] = clients;
      // Each client runs its own statements one after another while the other does the same.
      const count = async (client: Client, offset: number) => {
        const seen: number[] = [];
        for (let i = 0; i < 20; i++) seen.push((await client.query('SELECT $1::int + $2::int AS v', [i, offset])).rows[0].v);
        return seen;
      };
      const [fromA, fromB] = await Promise.all([count(a, 0), count(b, 100)]);
      expect(fromA).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(fromB).toEqual(Array.from({ length: 20 }, (_, i) => i + 100));

      await a.query('BEGIN');
      await a.query(`INSERT INTO svc_e.notes VALUES (3, 'in a transaction')`);
      let seenByB: number | undefined;
      const readByB = b.query('SELECT count(*)::int AS n FROM svc_e.notes').then((r) => (seenByB = r.rows[0].n));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seenByB).toBeUndefined();
      await a.query('COMMIT');
      await readByB;
      expect(seenByB).toBe(3);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('keeps the extended-protocol cycles of each client whole when many clients query at once', async () => {
    const clients = Array.from({ length: 6 }, () => new Client({ connectionString: pg!.url }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      // Different statements with parameters of different types: a Bind landing on another
      // client's Parse would fail or answer wrongly.
      const results = await Promise.all(
        clients.map((c, k) =>
          Promise.all(
            Array.from({ length: 25 }, (_, i) =>
              k % 2 ? c.query('SELECT $1::int * 2 AS v', [i]).then((r) => r.rows[0].v) : c.query('SELECT length($1::text) AS v', ['x'.repeat(i)]).then((r) => r.rows[0].v),
            ),
          ),
        ),
      );
      for (const r of results) expect(r).toEqual(Array.from({ length: 25 }, (_, i) => (results.indexOf(r) % 2 ? i * 2 : i)));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
