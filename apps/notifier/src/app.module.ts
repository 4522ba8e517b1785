import { Module, type DynamicModule } from '@nestjs/common';
import { busOptions, storageOptions } from '@trainyard/config';
import { MessagingModule } from '@trainyard/messaging';
import { PersistenceModule } from '@trainyard/persistence';
import { AppConfigModule, ClockModule, HealthModule } from '@trainyard/runtime';
import { StorageModule } from '@trainyard/storage';
import { AlertsModule } from './alerts/alerts.module';
import { BotModule } from './bot/bot.module';
import { MessageEntity } from './alerts/message.entity';
import { NOTIFIER_CONFIG, type NotifierConfig } from './config/notifier.config';
import { ModelDigest1764100000005 } from './migrations/1764100000005-model-digest';
import { BotCommands1764200000005 } from './migrations/1764200000005-bot-commands';
import { NotifierInit1763900000005 } from './migrations/1763900000005-notifier-init';
import { TelegramModule } from './telegram/telegram.module';
import { NotifierMetricsModule } from './metrics/notifier.metrics';

@Module({})
export class AppModule {
  static forRoot(config: NotifierConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(NOTIFIER_CONFIG, config),
        ClockModule,
        MessagingModule.forRootAsync({ useFactory: () => busOptions(config, 'notifier') }),
        PersistenceModule.forRoot({
          schema: 'notifier',
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
          waitForServerSeconds: config.DATABASE_WAIT_SECONDS,
          dataDir: config.DATA_DIR,
          entities: [MessageEntity],
          migrations: [NotifierInit1763900000005, ModelDigest1764100000005, BotCommands1764200000005],
        }),
        StorageModule.forRoot(storageOptions(config)),
        HealthModule,
        TelegramModule,
        NotifierMetricsModule,
        AlertsModule,
        BotModule,
      ],
    };
  }
}
