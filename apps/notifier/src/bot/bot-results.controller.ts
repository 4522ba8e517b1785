import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { EventMessage, EventName } from '@trainyard/contracts';
import { Consume } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { MessageStore } from '../alerts/message.store';
import { TELEGRAM_CLIENT, TelegramSendError, type TelegramClient } from '../telegram/telegram-client';
import { BotCommandStore, type BotCommand } from './bot-command.store';
import { formatCommandResult, formatPlan } from './bot-format';

/** Tells the chat that issued a command what became of it, once, as a reply to the command. */
@Controller()
export class BotResultsController {
  private readonly log = new Logger('BotResults');

  constructor(
    private readonly commands: BotCommandStore,
    private readonly messages: MessageStore,
    private readonly clock: Clock,
    @Inject(TELEGRAM_CLIENT) private readonly client: TelegramClient | null,
  ) {}

  @Consume('command.result')
  async onResult(@Payload() m: EventMessage<'command.result'>) {
    const command = await this.commands.byId(m.commandId);
    if (command) await this.answer(command, 'command.result', `command.result:${m.commandId}`, formatCommandResult(m));
  }

  /** A /run's outcome is its plan (or, for a dry run, all there is to it). */
  @Consume('run.planned')
  async onPlanned(@Payload() m: EventMessage<'run.planned'>) {
    const command = await this.commands.bySubject('run.requested', m.runId);
    if (command) await this.answer(command, 'run.planned', `run.planned:${m.runId}`, formatPlan(m));
  }

  private async answer(c: BotCommand, kind: EventName, dedupeKey: string, text: string): Promise<void> {
    const client = this.client;
    if (!client) return;
    await this.messages.sendOnce({ kind, dedupeKey, text }, async () => {
      try {
        await client.sendMessage(c.chatId, text, { replyTo: c.replyTo });
      } catch (err) {
        // A chat that no longer takes messages will not take this one later either.
        if (!(err instanceof TelegramSendError && err.chatRefused)) throw err;
        this.log.warn(`the answer to ${c.command} could not reach chat ${c.chatId}: ${err.message}`);
      }
      return this.clock.now();
    });
  }
}
