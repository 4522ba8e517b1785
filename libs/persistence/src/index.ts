export { createDataSource, statementNamingOf, type CreateDataSourceOptions } from './create-data-source';
export { PREPARED_PER_CONNECTION, statementName, type StatementNaming } from './prepared-statements';
export { entityFromRow } from './entity-from-row';
export { initializeDataSource } from './initialize-data-source';
export { makePgliteTemplate, pgliteTemplatePath, startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres';
export { PersistenceModule, type PersistenceModuleOptions } from './persistence.module';
export { STATISTICS_MIN_STATEMENTS, TableStatistics } from './table-statistics';
