import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { join } from 'node:path';
import { DynamicModule, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createDataSource, statementNamingOf } from './create-data-source';
import { EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';
import { initializeDataSource } from './initialize-data-source';
import { TableStatistics } from './table-statistics';

export interface PersistenceModuleOptions {
  schema: string;
  entities: NonNullable<PostgresConnectionOptions['entities']>;
  migrations: NonNullable<PostgresConnectionOptions['migrations']>;
  /** PostgreSQL URL; when absent an embedded PostgreSQL is started under dataDir. */
  url?: string;
  /**
   * Root of the local state (DATA_DIR); the embedded database lives in <dataDir>/pglite/<schema>,
   * one per service, because a PGlite folder can be opened by one process only.
   * Defaults to $DATA_DIR, else '.trainyard'.
   */
  dataDir?: string;
  poolSize?: number;
  applicationName?: string;
  /** Parameterised statements prepared by name (DATABASE_PREPARED_STATEMENTS); never on the embedded PGlite. */
  preparedStatements?: boolean;
  /** At start, how long a refused connection is tried again (DATABASE_WAIT_SECONDS); 0 fails at once. */
  waitForServerSeconds?: number;
}

interface Connection {
  dataSource: DataSource;
  embedded?: EmbeddedPostgres;
  statistics: TableStatistics;
}

/** How often a service looks whether its tables have outgrown their statistics (when it has been busy). */
const STATISTICS_EVERY_MS = 2000;

const CONNECTION = Symbol('trainyard.persistence.connection');

async function connect(opts: PersistenceModuleOptions): Promise<Connection> {
  const embedded = opts.url
    ? undefined
    : await startEmbeddedPostgres({
        dataDir: join(opts.dataDir ?? process.env.DATA_DIR ?? '.trainyard', 'pglite', opts.schema),
      });
  const dataSource = createDataSource({
    url: opts.url ?? embedded!.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    poolSize: opts.poolSize,
    preparedStatements: opts.preparedStatements,
    applicationName: opts.applicationName ?? opts.schema,
  });
  try {
    await initializeDataSource(dataSource, (opts.waitForServerSeconds ?? 0) * 1000);
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw err;
  }
  return { dataSource, embedded, statistics: new TableStatistics(dataSource, opts.schema, statementNamingOf(dataSource)!) };
}

/** Provides an initialized DataSource (schema created, migrations applied) under the DataSource class. */
@Module({})
export class PersistenceModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Persistence');

  constructor(@Inject(CONNECTION) private readonly connection: Connection) {}

  static forRoot(opts: PersistenceModuleOptions): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      providers: [
        { provide: CONNECTION, useFactory: () => connect(opts) },
        { provide: DataSource, useFactory: (c: Connection) => c.dataSource, inject: [CONNECTION] },
      ],
      exports: [DataSource],
    };
  }

  onApplicationBootstrap(): void {
    this.connection.statistics.start(STATISTICS_EVERY_MS, (err) => this.log.warn(`table statistics not refreshed: ${err.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.statistics.stop();
    if (this.connection.dataSource.isInitialized) await this.connection.dataSource.destroy();
    await this.connection.embedded?.stop();
  }
}
