import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { DataSource } from 'typeorm';
import { namingClient, StatementNaming } from './prepared-statements';

export interface CreateDataSourceOptions {
  /** postgres:// URL of the server (a real PostgreSQL or the embedded one). */
  url: string;
  /** The PostgreSQL schema this service owns; its tables and its migrations table live there. */
  schema: string;
  entities: NonNullable<PostgresConnectionOptions['entities']>;
  migrations: NonNullable<PostgresConnectionOptions['migrations']>;
  /** Connections in the pool; at least 2, since initializeDataSource holds one for its lock. */
  poolSize?: number;
  applicationName?: string;
  /** Parameterised statements prepared by name where the server allows (not on PGlite); default true. */
  preparedStatements?: boolean;
}

const namings = new WeakMap<DataSource, StatementNaming>();

/** How a DataSource made here names its statements; initializeDataSource decides it once connected. */
export const statementNamingOf = (ds: DataSource): StatementNaming | undefined => namings.get(ds);

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A DataSource bound to one service's schema; tables change only through migrations. */
export function createDataSource(opts: CreateDataSourceOptions): DataSource {
  if (!SCHEMA_NAME.test(opts.schema)) {
    throw new Error(`schema "${opts.schema}" must be a lower-case SQL identifier (letters, digits, "_")`);
  }
  if (opts.poolSize !== undefined && opts.poolSize < 2) {
    throw new Error(`poolSize ${opts.poolSize} is too small: initializeDataSource needs 2 connections`);
  }
  const naming = new StatementNaming(opts.preparedStatements ?? true);
  const ds = new DataSource({
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    synchronize: false,
    poolSize: opts.poolSize,
    applicationName: opts.applicationName,
    extra: { Client: namingClient(naming) },
  });
  namings.set(ds, naming);
  return ds;
}
