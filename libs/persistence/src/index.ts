export { createDataSource, type CreateDataSourceOptions } from './create-data-source';
export { entityFromRow } from './entity-from-row';
export { initializeDataSource } from './initialize-data-source';
export { makePgliteTemplate, pgliteTemplatePath, startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-postgres';
export { PersistenceModule, type PersistenceModuleOptions } from './persistence.module';
