import { Logger } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createLogger, PinoNestLogger, resolveLogLevel, SecretScrubber, secretsOf } from '../index';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider());

/** A logger writing into an array, as a service's would write to stdout. */
function capture(opts: { secrets?: string[]; level?: string; format?: 'json' | 'pretty' } = {}) {
  const lines: string[] = [];
  const log = createLogger({ service: 'probe', destination: { write: (l: string) => void lines.push(l) }, format: 'json', ...opts });
  const parsed = () => lines.map((l) => JSON.parse(l));
  return { log, lines, parsed, text: () => lines.join('') };
}

describe('structured logs', () => {
  const config = {
    DATABASE_URL: 'postgres://trainyard:db-pass-7f3k2@db.internal:5432/trainyard',
    NATS_URL: 'nats://bus-user:nats-pass-91xq@nats:4222',
    VAST_API_KEY: 'vast-key-0c9d8e7f6a5b4c3d',
    TELEGRAM_BOT_TOKEN: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    PORT: 3001,
  };

  it('finds the secrets in a configuration: secret-named values and URL credentials', () => {
    const found = secretsOf(config);
    expect(found).toEqual(expect.arrayContaining(['db-pass-7f3k2', 'nats-pass-91xq', config.VAST_API_KEY, config.TELEGRAM_BOT_TOKEN, config.AWS_SECRET_ACCESS_KEY]));
    expect(found).not.toContain('AKIAEXAMPLE');
    expect(found).not.toContain('trainyard');
    // nats://<token>@host: the user part is the token.
    expect(secretsOf({ NATS_URL: 'nats://s3cr3t-token-value@nats:4222' })).toContain('s3cr3t-token-value');
    // Secret entries of NAME=value lists, as an array (parsed config) or a string (the environment).
    expect(secretsOf({ VAST_AGENT_ENV: ['AGENT_CPU_SLOTS=2', 'AWS_SECRET_ACCESS_KEY=agent-s3-secret'] })).toEqual(['agent-s3-secret']);
    expect(secretsOf({ VAST_AGENT_ENV: 'AGENT_CPU_SLOTS=2,EXTRA_TOKEN=agent-token-1,DB=postgres://u:agent-db-pw@h/d' })).toEqual(['agent-token-1', 'agent-db-pw', 'agent-db-pw']);
  });

  it('writes one JSON line per entry with service, level name, ISO time and the message', () => {
    const { log, parsed } = capture();
    log.info({ event: 'job_started', runId: 'r1', jobId: 'r1-BTCUSDT', symbol: 'BTCUSDT' }, 'started');
    const [line] = parsed();
    expect(line).toMatchObject({ service: 'probe', level: 'info', msg: 'started', event: 'job_started', runId: 'r1', jobId: 'r1-BTCUSDT', symbol: 'BTCUSDT' });
    expect(new Date(line.time).toISOString()).toBe(line.time);
  });

  it('redacts secret-named keys, at the top and nested', () => {
    const { log, text, parsed } = capture();
    log.info(
      {
        apiKey: 'k-123456789',
        token: 't-123456789',
        nested: { password: 'p-123456789', deeper: { secretAccessKey: 's-123456789', authorization: 'Bearer abcdefgh' } },
        headers: { 'x-api-key': 'h-123456789' },
      },
      'keys',
    );
    log.info({ a: { b: { c: { d: { privateKey: 'deep-123456789' } } } } }, 'deeper than redact paths reach');
    expect(text()).not.toMatch(/123456789|abcdefgh/);
    expect(parsed()[0]).toMatchObject({ apiKey: '[REDACTED]', nested: { password: '[REDACTED]', deeper: { secretAccessKey: '[REDACTED]', authorization: '[REDACTED]' } } });
    expect(parsed()[1].a.b.c.d.privateKey).toBe('[REDACTED]');
  });

  it('redacts values of any type under secret-named keys, in arrays and errors too, without touching what it was handed', () => {
    const { log, text, parsed } = capture();
    const fields = { password: 12345678901, list: [{ NATS_NKEY_SEED: { seed: 'SUAM0123456789' } }], kept: { symbol: 'BTCUSDT', epochs: 3 } };
    log.info(fields, 'values');
    const err = Object.assign(new Error('request failed with 401'), { config: { headers: { authorization: 'Bearer zyxwvuts9876' } } });
    log.error({ err }, 'call failed');
    expect(text()).not.toMatch(/12345678901|SUAM0123456789|zyxwvuts9876/);
    expect(parsed()[0]).toMatchObject({ password: '[REDACTED]', list: [{ NATS_NKEY_SEED: '[REDACTED]' }], kept: { symbol: 'BTCUSDT', epochs: 3 } });
    expect(parsed()[1].err).toMatchObject({ type: 'Error', message: 'request failed with 401', config: { headers: { authorization: '[REDACTED]' } } });
    expect(parsed()[1].err.stack).toMatch(/^Error: request failed with 401\n\s+at /);
    expect(fields.password).toBe(12345678901);
    expect(err.config.headers.authorization).toBe('Bearer zyxwvuts9876');
  });

  it('scrubs configured secret values from messages, fields and error stacks', () => {
    const { log, text, parsed } = capture({ secrets: secretsOf(config) });
    log.info({ note: `key ${config.VAST_API_KEY} in a field` }, `calling Vast with ${config.VAST_API_KEY}`);
    log.error({ err: new Error(`login failed for ${config.AWS_SECRET_ACCESS_KEY}`) }, 'upload failed');
    log.warn(`a password alone: db-pass-7f3k2, url-encoded: ${encodeURIComponent(config.AWS_SECRET_ACCESS_KEY)}`);
    const all = text();
    for (const secret of [config.VAST_API_KEY, config.AWS_SECRET_ACCESS_KEY, encodeURIComponent(config.AWS_SECRET_ACCESS_KEY), 'db-pass-7f3k2']) expect(all).not.toContain(secret);
    expect(parsed()[0].msg).toBe('calling Vast with [REDACTED]');
    expect(parsed()[1].err.stack).toMatch(/login failed for \[REDACTED\]/);
  });

  it('masks passwords in any URL, and Telegram bot tokens in Bot API URLs, even when not configured', () => {
    const { log, text, parsed } = capture();
    log.info('connecting to postgres://trainyard:other-pass@db:5432/x and amqp://u:p4ss@mq/');
    log.warn({ url: 'https://api.telegram.org/bot987654321:ABCdefGhIJKlmNoPQRstUVwxYZ0123456789/sendMessage' }, 'telegram 429');
    expect(parsed()[0].msg).toBe('connecting to postgres://trainyard:***@db:5432/x and amqp://u:***@mq/');
    expect(parsed()[1].url).toBe('https://api.telegram.org/bot***/sendMessage');
    expect(text()).not.toMatch(/other-pass|p4ss|ABCdefGh/);
  });

  it('masks secrets in query strings and private keys in PEM form', () => {
    const { log, text, parsed } = capture();
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
    log.info({ key: pem }, 'GET https://console.vast.ai/api/v0/instances/?api_key=qs-secret-123&owner=me');
    expect(parsed()[0].msg).toBe('GET https://console.vast.ai/api/v0/instances/?api_key=***&owner=me');
    expect(parsed()[0].key).toBe('[REDACTED]');
    expect(text()).not.toMatch(/qs-secret-123|b3BlbnNzaC1rZXkt/);
  });

  it('carries trace_id and span_id inside an active span, and neither outside one', () => {
    const { log, parsed } = capture();
    const span = trace.getTracer('test').startSpan('work');
    context.with(trace.setSpan(context.active(), span), () => log.info('inside'));
    span.end();
    log.info('outside');
    const [inside, outside] = parsed();
    expect(inside.trace_id).toBe(span.spanContext().traceId);
    expect(inside.span_id).toBe(span.spanContext().spanId);
    expect(outside.trace_id).toBeUndefined();
  });

  it('keeps trace_id across awaits in the span context (as in a message handler)', async () => {
    const { log, parsed } = capture();
    const span = trace.getTracer('test').startSpan('handler');
    await context.with(trace.setSpan(context.active(), span), async () => {
      await new Promise((r) => setTimeout(r, 5));
      log.info('after an await');
    });
    expect(parsed()[0].trace_id).toBe(span.spanContext().traceId);
  });

  it('honours the level, LOG_LEVEL names included', () => {
    const { log, parsed } = capture({ level: resolveLogLevel('warn') });
    log.info('dropped');
    log.warn('kept');
    expect(parsed().map((l) => l.msg)).toEqual(['kept']);
    expect(resolveLogLevel('DEBUG')).toBe('debug');
    expect(resolveLogLevel('verbose')).toBe('trace');
    expect(resolveLogLevel('nonsense')).toBe('info');
    expect(resolveLogLevel(undefined)).toBe('info');
  });

  it('pretty-prints when asked, still scrubbed', () => {
    const { log, lines } = capture({ format: 'pretty', secrets: ['pretty-secret-1'] });
    log.info({ event: 'run_started', runId: 'r9', context: 'RunIntake' }, 'accepted pretty-secret-1');
    expect(lines[0]).toMatch(/INFO.*\[probe\] RunIntake: accepted \[REDACTED\]/);
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });

  it('takes Nest logs through pino: context, named events as fields, errors with stacks', () => {
    const { log, parsed } = capture({ level: 'debug' });
    const nest = new PinoNestLogger(log);
    Logger.overrideLogger(nest);
    try {
      new Logger('RunIntake').log({ event: 'run_started', runId: 'r2', jobs: 3, msg: 'accepted run r2' });
      new Logger('Completion').log('plain text');
      new Logger('Leases').error('lease failed', new Error('x').stack);
      new Logger('Leases').error(new Error('thrown thing'));
      new Logger('Verbose').verbose('filtered at debug');
      nest.log('from Nest itself', 'RoutesResolver');
    } finally {
      Logger.overrideLogger(false);
    }
    const lines = parsed();
    expect(lines[0]).toMatchObject({ level: 'info', context: 'RunIntake', event: 'run_started', runId: 'r2', jobs: 3, msg: 'accepted run r2' });
    expect(lines[1]).toMatchObject({ context: 'Completion', msg: 'plain text' });
    expect(lines[2]).toMatchObject({ level: 'error', context: 'Leases', msg: 'lease failed', stack: expect.stringMatching(/at /) });
    expect(lines[3]).toMatchObject({ level: 'error', msg: 'thrown thing', err: { message: 'thrown thing' } });
    expect(lines[4]).toMatchObject({ context: 'RoutesResolver', msg: 'from Nest itself' });
    expect(lines).toHaveLength(5);
  });

  it('scrubs what a scrubber learns after the logger was made', () => {
    const scrubber = new SecretScrubber();
    const lines: string[] = [];
    const log = createLogger({ service: 'probe', scrubber, format: 'json', destination: { write: (l: string) => void lines.push(l) } });
    scrubber.add('late-secret-value', 'short');
    log.info('late-secret-value and short');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['[REDACTED] and short']);
  });
});
