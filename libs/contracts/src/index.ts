export * from './primitives';
export * from './job-spec';
export * from './events';
export * from './subjects';
export * from './canonical-json';
export * from './run-request';
export * from './states';
export * from './json-schema';
