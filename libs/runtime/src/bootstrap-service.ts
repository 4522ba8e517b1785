import { Logger, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connectJetStream } from '@trainyard/messaging';

export interface ServiceEndpoint {
  port: number;
  host: string;
  /** Values for `{name}` placeholders in consumer filters. */
  vars?: Record<string, string>;
}

/**
 * Creates the app, attaches the JetStream transport and serves HTTP. Shutdown hooks stop consuming
 * first and drain the bus last, so nothing acknowledged is left half-done.
 */
export async function bootstrapService(name: string, module: DynamicModule, endpoint: ServiceEndpoint): Promise<INestApplication> {
  const app = await NestFactory.create(module).catch((err) => fail(name, err));
  app.enableShutdownHooks();
  connectJetStream(app, endpoint.vars);
  await app.startAllMicroservices();
  const { port, host } = endpoint;
  await app.listen(port, host);
  new Logger(name).log(`${name} ready on http://${host}:${port} (health: /health/ready)`);
  return app;
}

function fail(name: string, err: unknown): never {
  new Logger(name).error(`cannot start: ${(err as Error).message ?? err}`);
  process.exit(1);
}
