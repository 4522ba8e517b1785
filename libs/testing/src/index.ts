export * from './wait-for';
export * from './test-bus';
export * from './boot-test-app';
export * from './fake-exchange';
export * from './otlp-receiver';
export * from './s3-test-server';
export * from './job-definition';
export * from './job-succeeded';
