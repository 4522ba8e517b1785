import { Module } from '@nestjs/common';
import { apiTokens } from '@trainyard/config';
import { API_TOKENS, ApiTokenGuard } from '@trainyard/runtime';
import { PROMOTER_CONFIG, type PromoterConfig } from '../config/promoter.config';
import { PromotionModule } from '../promotion/promotion.module';
import { RegistryModule } from '../registry/registry.module';
import { RetentionModule } from '../retention/retention.module';
import { ModelsApiController } from './models-api.controller';
import { OpenApiController } from './openapi.controller';
import { RetentionApiController } from './retention-api.controller';

/** The REST API: model versions to list, show, compare, roll back and promote; retention on demand; its OpenAPI document. */
@Module({
  imports: [RegistryModule, PromotionModule, RetentionModule],
  controllers: [ModelsApiController, RetentionApiController, OpenApiController],
  providers: [ApiTokenGuard, { provide: API_TOKENS, useFactory: (c: PromoterConfig) => apiTokens(c), inject: [PROMOTER_CONFIG] }],
})
export class ApiModule {}
