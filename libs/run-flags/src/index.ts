export * from './run-flags';
