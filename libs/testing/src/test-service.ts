import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamicModule, INestApplication } from '@nestjs/common';
import type { z } from 'zod';
import { loadConfig } from '@trainyard/config';
import { bootTestApp, type BootOptions } from './boot-test-app';
import { deleteTestStream, testNatsUrl, testPrefix } from './test-bus';
import { createTestDatabase, type TestDatabase } from './test-database';

export interface TestServiceOptions<S extends z.ZodType> extends Omit<BootOptions, 'placeholders'> {
  /** The app's environment schema: the spec's config is read through it, as the service reads its own. */
  env: S;
  /** The app's root module for a config, e.g. `AppModule.forRoot` (a parameter: a library never imports an app). */
  module: (config: z.output<S>) => DynamicModule;
  /** The label of the test's stream prefix. */
  prefix: string;
  /** A database of its own (default); false for a service without one. */
  database?: boolean;
  /** Listen on a free port of 127.0.0.1, at `url`. */
  listen?: boolean;
}

/**
 * One service under test on the shared test bus and database server, with a database, a stream
 * prefix and a folder of its own and its config read through the app's schema. Made in `describe`,
 * so the prefix and the folder can be named before the service starts; `start()` in beforeAll,
 * `close()` in afterAll.
 */
export class TestService<S extends z.ZodType> {
  /** The stream and subject prefix, the service's and nobody else's. */
  readonly prefix: string;
  /** A folder of the test's own, removed on close: ARTIFACTS_DIR unless the vars say otherwise. */
  readonly dir: string;
  db?: TestDatabase;
  config!: z.output<S>;
  app!: INestApplication;
  /** The HTTP address, with `listen`. */
  url!: string;
  private natsUrl = testNatsUrl();
  private placeholders: Record<string, string> = {};

  constructor(private readonly options: TestServiceOptions<S>) {
    this.prefix = testPrefix(options.prefix);
    this.dir = mkdtempSync(join(tmpdir(), `ty-${options.prefix}-`));
  }

  /** Creates the database and boots the service, its config read through the schema from the test's `vars` over its bus, prefix, database and folder; `placeholders` as in BootOptions. */
  async start(vars: Record<string, string | undefined> = {}, placeholders: Record<string, string> = {}): Promise<INestApplication> {
    if (this.options.database !== false) this.db = await createTestDatabase();
    this.config = loadConfig(this.options.env, { NATS_URL: this.natsUrl, TRAINYARD_PREFIX: this.prefix, DATABASE_URL: this.db?.url, ARTIFACTS_DIR: this.dir, ...vars });
    this.natsUrl = vars.NATS_URL ?? this.natsUrl;
    this.placeholders = placeholders;
    return this.boot();
  }

  /** Stops the service and boots it again on the same config, database, stream and folder: a restarted process. */
  async restart(): Promise<INestApplication> {
    await this.app.close();
    return this.boot();
  }

  /** The service first, so nothing it still does meets a dropped database or a deleted stream. */
  async close(): Promise<void> {
    try {
      await this.app?.close();
    } finally {
      await this.db?.drop();
      await deleteTestStream(this.prefix, this.natsUrl);
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  private async boot(): Promise<INestApplication> {
    const { module, listen, overrides, transport, logger } = this.options;
    this.app = await bootTestApp({ imports: [module(this.config)] }, { placeholders: this.placeholders, overrides, transport, logger });
    if (listen) {
      await this.app.listen(0, '127.0.0.1');
      this.url = await this.app.getUrl();
    }
    return this.app;
  }
}
