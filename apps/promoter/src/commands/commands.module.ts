import { Module } from '@nestjs/common';
import { PromotionModule } from '../promotion/promotion.module';
import { RegistryModule } from '../registry/registry.module';
import { PromoterCommandsController } from './promoter-commands.controller';
import { PromoterQueries } from './promoter-queries';

/** The bus side of operating the promoter: commands (model.promote, model.rollback) and queries (models.*). */
@Module({
  imports: [RegistryModule, PromotionModule],
  controllers: [PromoterCommandsController],
  providers: [PromoterQueries],
})
export class CommandsModule {}
