import type { LoggerService, LogLevel as NestLogLevel } from '@nestjs/common';
import type { Level, Logger } from 'pino';

const STACK = /^.+\n\s+at .+/s;

/** Fields of a named event: `{ event: 'job_started', runId, jobId, symbol, ... }`, with an optional `msg`. */
export interface LogEvent {
  event: string;
  msg?: string;
  [field: string]: unknown;
}

/**
 * Nest's LoggerService over pino, so Nest's own lines and every `new Logger(context)` of the apps
 * go through one logger. A message may be a string, an Error, or an object of fields: a named event
 * is logged as `logger.log({ event: 'job_started', runId, jobId, symbol, msg? })` and its fields
 * land on the JSON line as they are.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest's levels map onto pino's; the most verbose one asked for wins. */
  setLogLevels(levels: NestLogLevel[]): void {
    const order: [NestLogLevel, Level][] = [
      ['verbose', 'trace'],
      ['debug', 'debug'],
      ['log', 'info'],
      ['warn', 'warn'],
      ['error', 'error'],
      ['fatal', 'fatal'],
    ];
    const found = order.find(([nest]) => levels.includes(nest));
    this.pino.level = found ? found[1] : 'silent';
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    // A Logger with a context appends it as the last parameter (Nest's own convention).
    let context: string | undefined;
    const last = rest[rest.length - 1];
    if (typeof last === 'string' && !STACK.test(last)) context = rest.pop() as string;
    const fields: Record<string, unknown> = context ? { context } : {};
    const stackIndex = rest.findIndex((p) => typeof p === 'string' && STACK.test(p));
    if (stackIndex >= 0) fields.stack = rest.splice(stackIndex, 1)[0];
    const extra = rest.filter((p) => p !== undefined);
    if (extra.length) fields.details = extra.length === 1 ? extra[0] : extra;

    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      const { msg, message: text, ...own } = message as Record<string, unknown>;
      const line = typeof msg === 'string' ? msg : typeof text === 'string' ? text : typeof own.event === 'string' ? own.event : '';
      this.pino[level]({ ...fields, ...own }, line);
    } else {
      this.pino[level](fields, String(message));
    }
  }
}
