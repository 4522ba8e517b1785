import { DynamicModule, Global, Module, type INestApplication, type INestMicroservice } from '@nestjs/common';
import { JetStreamServer } from './jetstream.server';
import { MESSAGING_OPTIONS, type MessagingOptions } from './messaging-options';
import { NatsBus } from './nats-bus';

export interface MessagingModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: unknown[];
  useFactory: (...args: never[]) => MessagingOptions | Promise<MessagingOptions>;
}

@Global()
@Module({})
export class MessagingModule {
  static forRootAsync(options: MessagingModuleAsyncOptions): DynamicModule {
    return {
      module: MessagingModule,
      imports: options.imports ?? [],
      providers: [
        { provide: MESSAGING_OPTIONS, useFactory: options.useFactory, inject: (options.inject ?? []) as never[] },
        { provide: NatsBus, useFactory: (o: MessagingOptions) => NatsBus.connect(o), inject: [MESSAGING_OPTIONS] },
      ],
      exports: [NatsBus, MESSAGING_OPTIONS],
    };
  }
}

/** Attaches the JetStream transport to an app; call before `app.init()` / `app.listen()`. */
export function connectJetStream(app: INestApplication, vars: Record<string, string> = {}): INestMicroservice {
  return app.connectMicroservice<{ strategy: JetStreamServer }>({ strategy: new JetStreamServer(app.get(NatsBus), vars) });
}
