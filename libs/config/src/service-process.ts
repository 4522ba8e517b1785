import { join } from 'node:path';

/**
 * V8 flags every service runs with. A semi-space of 2 MB instead of Node's 16 MB: the services' young
 * objects are short-lived messages and query rows, so scavenges stay cheap, and each process holds
 * about 30 MB less. An old generation allowed to grow to twice what survived the last full GC, not
 * V8's up to four times under a fast allocation rate: the scheduler of a 5,000-job run peaked at
 * 236–250 MB without it and 163 MB with it, at a CPU cost within the bench's noise (docs/performance.md, memory).
 */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=2', '--heap-growing-percent=100'] as const;

/** The node arguments that start a built service (its `dist` folder): the flags, its tracing, then its main. */
export function serviceNodeArgs(dist: string): string[] {
  return [...SERVICE_NODE_FLAGS, '--require', join(dist, 'instrumentation.js'), join(dist, 'main.js')];
}

/**
 * What a nats-server started for one machine's stack (`trainyard up`, the stack bench) runs with: one
 * Go scheduler thread unless GOMAXPROCS says otherwise. The system's message rate, thousands a
 * second at most, is far below what one thread serves; on a 2-core machine shared with the services
 * and PostgreSQL, one thread instead of two cut the server's CPU per job by a quarter and its threads'
 * wake-ups by a third (docs/performance.md, run W).
 */
export function natsServerEnv(env: NodeJS.ProcessEnv): { GOMAXPROCS: string } {
  return { GOMAXPROCS: env.GOMAXPROCS || '1' };
}
