import { Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { Clock, ReadinessRegistry } from '@trainyard/runtime';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { AlertsController } from './alerts.controller';
import { AlertsService } from './alerts.service';
import { DigestService } from './digest.service';
import { DigestStore } from './digest.store';
import { LogNotifier } from './log.notifier';
import { MessageStore } from './message.store';
import { NOTIFIER, type Notifier } from './notifier';
import { TelegramNotifier } from './telegram.notifier';

@Module({
  controllers: [AlertsController],
  providers: [
    Clock,
    MessageStore,
    AlertsService,
    DigestStore,
    DigestService,
    {
      provide: NOTIFIER,
      inject: [NOTIFIER_CONFIG],
      useFactory: (cfg: NotifierConfig): Notifier =>
        cfg.TELEGRAM_BOT_TOKEN
          ? new TelegramNotifier({ token: cfg.TELEGRAM_BOT_TOKEN, chatIds: cfg.TELEGRAM_CHAT_IDS, apiRoot: cfg.TELEGRAM_API_URL })
          : new LogNotifier(),
    },
  ],
})
export class AlertsModule implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessRegistry,
    private readonly store: MessageStore,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', () => this.store.ping());
    new Logger('Alerts').log(`notifications go to ${this.notifier.channel}`);
  }
}
