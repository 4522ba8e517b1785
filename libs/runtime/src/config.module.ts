import { Module, type DynamicModule } from '@nestjs/common';

/** Makes an app's validated configuration injectable everywhere under its token. */
@Module({})
export class AppConfigModule {
  static forRoot(token: symbol, value: unknown): DynamicModule {
    return { module: AppConfigModule, global: true, providers: [{ provide: token, useValue: value }], exports: [token] };
  }
}
