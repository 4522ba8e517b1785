import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { connectJetStream } from '@trainyard/messaging';

/** A service as it runs (HTTP app plus the JetStream transport), without listening on a port. */
export async function bootTestApp(metadata: ModuleMetadata, vars: Record<string, string> = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  connectJetStream(app, vars);
  await app.startAllMicroservices();
  await app.init();
  return app;
}
