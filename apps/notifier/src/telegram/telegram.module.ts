import { Global, Module } from '@nestjs/common';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { TelegrafClient } from './telegraf-client';
import { TELEGRAM_CLIENT, type TelegramClient } from './telegram-client';

/** The one Telegram client of the process (null without a bot token), for alerts and the bot alike. */
@Global()
@Module({
  providers: [
    {
      provide: TELEGRAM_CLIENT,
      inject: [NOTIFIER_CONFIG],
      useFactory: (cfg: NotifierConfig): TelegramClient | null =>
        cfg.TELEGRAM_BOT_TOKEN
          ? new TelegrafClient({
              token: cfg.TELEGRAM_BOT_TOKEN,
              apiRoot: cfg.TELEGRAM_API_URL,
              maxRetries: cfg.TELEGRAM_MAX_RETRIES,
              maxRetryAfterSeconds: cfg.TELEGRAM_MAX_RETRY_AFTER_SECONDS,
              webhook: cfg.TELEGRAM_WEBHOOK_URL ? { url: cfg.TELEGRAM_WEBHOOK_URL, host: cfg.TELEGRAM_WEBHOOK_HOST, port: cfg.TELEGRAM_WEBHOOK_PORT } : undefined,
            })
          : null,
    },
  ],
  exports: [TELEGRAM_CLIENT],
})
export class TelegramModule {}
