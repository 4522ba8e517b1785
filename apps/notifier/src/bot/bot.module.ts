import { Module } from '@nestjs/common';
import { CapacityView } from '@trainyard/messaging';
import { AlertsModule } from '../alerts/alerts.module';
import { BotCommandStore } from './bot-command.store';
import { BotCommands } from './bot-commands';
import { BotResultsController } from './bot-results.controller';
import { BotService } from './bot.service';

/** The Telegram bot: commands from allowed chats, answered from the bus. */
@Module({
  imports: [AlertsModule],
  controllers: [BotResultsController],
  providers: [CapacityView, BotCommandStore, BotCommands, BotService],
})
export class BotModule {}
