import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { REDACTED, SecretScrubber } from './secret-scrubber';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Object keys whose values are replaced in log lines, at the top level and up to three levels down. */
export const REDACTED_KEYS = [
  'apiKey',
  'api_key',
  'apikey',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'botToken',
  'password',
  'passwd',
  'secret',
  'clientSecret',
  'secretAccessKey',
  'secret_access_key',
  'privateKey',
  'authorization',
  'Authorization',
  'cookie',
  'x-api-key',
  'VAST_API_KEY',
  'TELEGRAM_BOT_TOKEN',
  'AWS_SECRET_ACCESS_KEY',
  'S3_SECRET_ACCESS_KEY',
  'NATS_PASSWORD',
  'NATS_TOKEN',
  'NATS_NKEY_SEED',
  'nkeySeed',
];

const SECRET_KEYS = new Set(REDACTED_KEYS);
const REDACT_DEPTH = 3;

/**
 * `value` with the values of secret-named keys (REDACTED_KEYS) replaced, at the top and up to three
 * levels down, copied only along the way to what it replaces: pino's own `redact` took a third of
 * the CPU a log line cost. An error stays an error (its prototype, message and stack kept).
 */
function redactSecretKeys<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth > REDACT_DEPTH || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const next = redactSecretKeys(item, depth + 1);
      if (next !== item) (copy ??= [...value])[i] = next;
    });
    return (copy ?? value) as T;
  }
  const fields = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(fields)) {
    const item = fields[key];
    const next = SECRET_KEYS.has(key) && item !== undefined ? REDACTED : redactSecretKeys(item, depth + 1);
    if (next === item) continue;
    copy ??= value instanceof Error ? Object.create(Object.getPrototypeOf(value), Object.getOwnPropertyDescriptors(value)) : { ...fields };
    Object.defineProperty(copy, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return (copy ?? value) as T;
}

export interface CreateLoggerOptions {
  /** On every line as `service`. */
  service: string;
  /** Default: LOG_LEVEL, else `info`. */
  level?: string;
  /** `json` or `pretty`; default: LOG_FORMAT, else pretty when stdout is a terminal and JSON otherwise. */
  format?: 'json' | 'pretty';
  /** Secret values to scrub from every line, e.g. `secretsOf(config)`. */
  secrets?: Iterable<string | undefined | null>;
  /** A scrubber to share (more secrets may be added to it later); else one is made from `secrets`. */
  scrubber?: SecretScrubber;
  /** Where lines go; default: stdout, written synchronously so nothing is lost on exit or crash. */
  destination?: DestinationStream;
  env?: NodeJS.ProcessEnv;
}

/** A LOG_LEVEL value pino knows (`verbose`, Nest's name, counts as `trace`). */
export function isLogLevel(value: string): boolean {
  const v = value.trim().toLowerCase();
  return v === 'verbose' || (LOG_LEVELS as readonly string[]).includes(v);
}

export function resolveLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? '').trim().toLowerCase();
  if (v === 'verbose') return 'trace';
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : 'info';
}

/** The trace and span of the active span, when there is one, so a log line leads to its trace in Jaeger. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/**
 * A pino logger for one service: JSON lines (or pretty ones in a terminal), each with `service`, an
 * ISO time, the level's name and, inside a span, `trace_id`. Secret-named keys are redacted,
 * and every finished line goes through the scrubber before it is written.
 */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const env = opts.env ?? process.env;
  const scrubber = opts.scrubber ?? new SecretScrubber(opts.secrets ?? []);
  const level = opts.level ?? resolveLogLevel(env.LOG_LEVEL);
  const wantsPretty = opts.format ? opts.format === 'pretty' : env.LOG_FORMAT ? env.LOG_FORMAT === 'pretty' : Boolean(process.stdout.isTTY);
  const out: DestinationStream = opts.destination ?? pino.destination({ dest: 1, sync: true });
  const prettify = wantsPretty
    ? prettyFactory({
        colorize: Boolean(process.stdout.isTTY) && !opts.destination,
        translateTime: 'SYS:HH:MM:ss.l',
        messageFormat: '[{service}]{if context} {context}:{end} {msg}',
        ignore: 'pid,hostname,service,context,span_id',
      })
    : null;
  const destination: DestinationStream = {
    write(line: string) {
      const clean = scrubber.scrub(line);
      out.write(prettify ? prettify(clean) : clean);
    },
  };
  const options: LoggerOptions = {
    level,
    base: { service: opts.service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (fields) => redactSecretKeys(fields) },
    mixin: traceFields,
  };
  return pino(options, destination);
}
