import { Module } from '@nestjs/common';
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
})
export class ApiModule {}
