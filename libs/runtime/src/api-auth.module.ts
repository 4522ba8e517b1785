import { Global, Module, type DynamicModule } from '@nestjs/common';
import { API_TOKENS, ApiTokenGuard, type ApiTokens } from './api-token.guard';

/** The service's API tokens and the guard that checks them, once per app for every controller that says @UseGuards(ApiTokenGuard). */
@Global()
@Module({})
export class ApiAuthModule {
  static forRoot(tokens: ApiTokens): DynamicModule {
    return { module: ApiAuthModule, providers: [ApiTokenGuard, { provide: API_TOKENS, useValue: tokens }], exports: [ApiTokenGuard, API_TOKENS] };
  }
}
