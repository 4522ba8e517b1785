export * from './line-chart';
