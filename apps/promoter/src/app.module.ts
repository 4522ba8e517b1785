import { Module, type DynamicModule } from '@nestjs/common';
import { apiTokens, busOptions, storageOptions } from '@trainyard/config';
import { MessagingModule } from '@trainyard/messaging';
import { PersistenceModule } from '@trainyard/persistence';
import { ApiAuthModule, AppConfigModule, ClockModule, HealthModule } from '@trainyard/runtime';
import { StorageModule } from '@trainyard/storage';
import { ApiModule } from './api/api.module';
import { CommandsModule } from './commands/commands.module';
import { PROMOTER_CONFIG, type PromoterConfig } from './config/promoter.config';
import { PromoterInit1763900000004 } from './migrations/1763900000004-promoter-init';
import { PromoterManualDecisionsRetention1764000000004 } from './migrations/1764000000004-promoter-manual-decisions-retention';
import { PromoterOneVersionPerJob1764500000004 } from './migrations/1764500000004-promoter-one-version-per-job';
import { PromoterFencedSuccesses1764600000004 } from './migrations/1764600000004-promoter-fenced-successes';
import { PromoterDecisionCommands1764700000004 } from './migrations/1764700000004-promoter-decision-commands';
import { PromoterVariants1765400000004 } from './migrations/1765400000004-promoter-variants';
import { PromotionModule } from './promotion/promotion.module';
import { RetentionModule } from './retention/retention.module';
import { DecisionEntity } from './registry/decision.entity';
import { ModelVersionEntity } from './registry/model-version.entity';
import { PromoterMetricsModule } from './metrics/promoter.metrics';

@Module({})
export class AppModule {
  static forRoot(config: PromoterConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(PROMOTER_CONFIG, config),
        ClockModule,
        ApiAuthModule.forRoot(apiTokens(config)),
        MessagingModule.forRootAsync({ useFactory: () => busOptions(config, 'promoter') }),
        PersistenceModule.forRoot({
          schema: 'promoter',
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
          waitForServerSeconds: config.DATABASE_WAIT_SECONDS,
          dataDir: config.DATA_DIR,
          entities: [ModelVersionEntity, DecisionEntity],
          migrations: [
            PromoterInit1763900000004,
            PromoterManualDecisionsRetention1764000000004,
            PromoterOneVersionPerJob1764500000004,
            PromoterFencedSuccesses1764600000004,
            PromoterDecisionCommands1764700000004,
            PromoterVariants1765400000004,
          ],
        }),
        StorageModule.forRoot(storageOptions(config)),
        HealthModule,
        PromoterMetricsModule,
        PromotionModule,
        RetentionModule,
        ApiModule,
        CommandsModule,
      ],
    };
  }
}
