import type { DataSource } from 'typeorm';
import { statementNamingOf } from './create-data-source';

const UNIQUE_VIOLATION = '23505';

/**
 * Connects, creates the service's schema and applies pending migrations, one replica at a time.
 * The advisory lock is a session lock held on its own connection, so the migrations (which run on
 * other connections, one transaction each) are not blocked by it. On the embedded PGlite every
 * connection shares one session, where the lock is re-entrant and so serialises nothing.
 */
export async function initializeDataSource(ds: DataSource, waitForServerMs = 0): Promise<DataSource> {
  const schema = schemaOf(ds);
  if (!ds.isInitialized) await initializeWhenUp(ds, waitForServerMs);
  await statementNamingOf(ds)?.decide(ds);
  const lock = ds.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey(schema)]);
    try {
      await createSchema(ds, schema);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey(schema)]);
    }
  } finally {
    await lock.release();
  }
  return ds;
}

/** A server not listening yet, or still starting up: worth another try within the wait. */
const NOT_UP = new Set(['ECONNREFUSED', '57P03']);

/**
 * Connects, trying again for up to `waitMs` while the server refuses connections (it may be starting
 * beside this process: `trainyard up` starts the services while the embedded database starts).
 */
async function initializeWhenUp(ds: DataSource, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      await ds.initialize();
      return;
    } catch (err) {
      if (!NOT_UP.has((err as { code?: string }).code ?? '') || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function schemaOf(ds: DataSource): string {
  const schema = (ds.options as { schema?: string }).schema;
  if (!schema) throw new Error('initializeDataSource needs a DataSource with a schema (see createDataSource)');
  return schema;
}

function lockKey(schema: string): string {
  return `trainyard.migrations:${schema}`;
}

/** Concurrent CREATE SCHEMA IF NOT EXISTS can still fail on the catalog's unique index; the loser can go on. */
async function createSchema(ds: DataSource, schema: string): Promise<void> {
  try {
    await ds.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  } catch (err) {
    if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
  }
}
