import type { Logger } from 'pino';
import { createLogger, isLogLevel, LOG_LEVELS } from './create-logger';
import { PinoNestLogger } from './nest-logger';
import { SecretScrubber, secretsOf } from './secret-scrubber';

export interface ServiceLoggerOptions {
  /** The service's validated configuration: its secrets are registered with the scrubber. */
  config?: object;
  env?: NodeJS.ProcessEnv;
}

/**
 * The logger of a service process: pino with the secrets of its configuration and environment
 * registered, installed as Nest's logger, and catching what would otherwise reach stderr unformatted
 * (process warnings, an uncaught exception, an unhandled rejection), so every line is JSON and scrubbed.
 */
export function createServiceLogger(service: string, opts: ServiceLoggerOptions = {}): PinoNestLogger {
  const env = opts.env ?? process.env;
  const scrubber = new SecretScrubber([...secretsOf(opts.config), ...secretsOf(env)]);
  const pino = createLogger({ service, scrubber, env });
  if (env.LOG_LEVEL && !isLogLevel(env.LOG_LEVEL)) {
    pino.warn({ event: 'log_level_unknown', value: env.LOG_LEVEL }, `LOG_LEVEL ${JSON.stringify(env.LOG_LEVEL)} is not one of ${LOG_LEVELS.join(', ')}: logging at info`);
  }
  routeProcessEvents(pino);
  return new PinoNestLogger(pino);
}

function routeProcessEvents(log: Logger): void {
  // Node's own printer writes warnings as plain text; ours writes them as lines like any other.
  process.removeAllListeners('warning');
  process.on('warning', (w) => log.warn({ event: 'process_warning', warning: w.name, code: (w as { code?: string }).code }, w.message));
  // Same outcome as Node's default (the process ends with 1), but logged as a line, scrubbed.
  process.on('uncaughtException', (err) => {
    log.fatal({ event: 'uncaught_exception', err }, err.message);
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ event: 'unhandled_rejection', err: reason instanceof Error ? reason : new Error(String(reason)) }, 'unhandled promise rejection');
    process.exit(1);
  });
}
