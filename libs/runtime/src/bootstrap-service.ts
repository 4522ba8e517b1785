import { Logger, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connectJetStream } from '@trainyard/messaging';
import { createServiceLogger } from './logging/service-logger';

export interface ServiceEndpoint {
  port: number;
  host: string;
  /** Values for `{name}` placeholders in consumer filters. */
  vars?: Record<string, string>;
  /**
   * The service's validated configuration: its secrets (API keys, tokens, passwords, URL
   * credentials) are scrubbed from every log line, and it is logged, so scrubbed, at start.
   */
  config?: object;
}

/**
 * Creates the app with pino as its logger, attaches the JetStream transport and serves HTTP
 * (`/health/*`, `/metrics` where the app has metrics). Shutdown hooks stop consuming first and
 * drain the bus last, so nothing acknowledged is left half-done.
 */
export async function bootstrapService(name: string, module: DynamicModule, endpoint: ServiceEndpoint): Promise<INestApplication> {
  const logger = createServiceLogger(name, { config: endpoint.config });
  if (endpoint.config) logger.log({ event: 'service_starting', config: endpoint.config, msg: `${name} starting` }, 'Bootstrap');
  const app = await NestFactory.create(module, { logger }).catch((err) => fail(name, err));
  app.enableShutdownHooks();
  connectJetStream(app, endpoint.vars);
  await app.startAllMicroservices();
  const { port, host } = endpoint;
  await app.listen(port, host);
  new Logger(name).log({ event: 'service_ready', port, host, msg: `${name} ready on http://${host}:${port} (health: /health/ready, metrics: /metrics)` });
  return app;
}

function fail(name: string, err: unknown): never {
  new Logger(name).error({ event: 'service_failed', err, msg: `cannot start: ${(err as Error).message ?? err}` });
  process.exit(1);
}
