import { Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { ReadinessRegistry } from '@trainyard/runtime';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { TELEGRAM_CLIENT, type TelegramClient } from '../telegram/telegram-client';
import { AlertsController } from './alerts.controller';
import { AlertsService } from './alerts.service';
import { DigestService } from './digest.service';
import { DigestStore } from './digest.store';
import { LogNotifier } from './log.notifier';
import { MessageStore } from './message.store';
import { NOTIFIER, type Notifier } from './notifier';
import { RunReportService } from './run-report.service';
import { TelegramNotifier } from './telegram.notifier';

@Module({
  controllers: [AlertsController],
  providers: [
    MessageStore,
    AlertsService,
    DigestStore,
    DigestService,
    RunReportService,
    {
      provide: NOTIFIER,
      inject: [TELEGRAM_CLIENT, NOTIFIER_CONFIG],
      useFactory: (client: TelegramClient | null, cfg: NotifierConfig): Notifier => (client ? new TelegramNotifier(client, cfg.TELEGRAM_CHAT_IDS) : new LogNotifier()),
    },
  ],
  exports: [MessageStore],
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
