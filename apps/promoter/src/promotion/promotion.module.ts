import { Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { RegistryModule } from '../registry/registry.module';
import { ManualPromotionService } from './manual-promotion.service';
import { ProductionArtifacts } from './production-artifacts.service';
import { PromotionController } from './promotion.controller';
import { PromotionService } from './promotion.service';

@Module({
  imports: [RegistryModule],
  controllers: [PromotionController],
  providers: [ProductionArtifacts, PromotionService, ManualPromotionService],
  exports: [ManualPromotionService],
})
export class PromotionModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly production: ProductionArtifacts,
  ) {}

  onModuleInit(): void {
    this.readiness.add('storage', () => this.production.ping());
  }
}
