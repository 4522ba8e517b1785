import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { connectJetStream } from '@trainyard/messaging';

export interface BootOptions {
  /** Fill `{name}` placeholders in the transport's subjects, e.g. an agent's own `agent.{agentId}.assign`. */
  placeholders?: Record<string, string>;
  /** Providers replaced by the test's own, e.g. a clock it moves. */
  overrides?: { provide: unknown; useValue: unknown }[];
  /** false: no JetStream transport, for a spec that calls the handlers itself and wants no delivery racing it. */
  transport?: boolean;
  logger?: LoggerService | false;
}

/** A service as it runs (HTTP app plus the JetStream transport), without listening on a port. */
export async function bootTestApp(metadata: ModuleMetadata, { placeholders = {}, overrides = [], transport = true, logger = false }: BootOptions = {}): Promise<INestApplication> {
  let builder = Test.createTestingModule(metadata);
  for (const o of overrides) builder = builder.overrideProvider(o.provide).useValue(o.useValue);
  const app = (await builder.compile()).createNestApplication({ logger });
  if (transport) {
    connectJetStream(app, placeholders);
    await app.startAllMicroservices();
  }
  await app.init();
  return app;
}
