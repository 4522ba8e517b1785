export * from './bootstrap-service';
export * from './health.module';
export * from './readiness.registry';
export * from './clock';
export * from './config.module';
export * from './zod-validation.pipe';
