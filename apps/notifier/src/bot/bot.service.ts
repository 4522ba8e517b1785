import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { escapeHtml as escape } from '../alerts/html';
import { NOTIFIER_CONFIG, type NotifierConfig } from '../config/notifier.config';
import { TELEGRAM_CLIENT, type IncomingMessage, type TelegramClient } from '../telegram/telegram-client';
import { BotCommands, isTellable, type Caller, type Reply } from './bot-commands';
import { parseCommandLine } from './command-line';

/**
 * The bot's front door. Only chats on the allow-list get answers; commands that change things also
 * need an operator. Everything else is dropped and logged by chat and user id, never with the text.
 */
@Injectable()
export class BotService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Bot');
  private readonly chats: Set<string>;
  private readonly operators: Set<string>;

  constructor(
    @Inject(TELEGRAM_CLIENT) private readonly client: TelegramClient | null,
    private readonly commands: BotCommands,
    @Inject(NOTIFIER_CONFIG) private readonly cfg: NotifierConfig,
  ) {
    this.chats = new Set(cfg.TELEGRAM_CHAT_IDS);
    this.operators = new Set(cfg.TELEGRAM_OPERATOR_IDS);
  }

  onApplicationBootstrap(): void {
    if (!this.client) return this.log.log('bot commands off: no TELEGRAM_BOT_TOKEN');
    if (!this.cfg.TELEGRAM_COMMANDS) return this.log.log('bot commands off: TELEGRAM_COMMANDS=false');
    void this.client.startReceiving((m) => this.handle(m));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.stop();
  }

  async handle(m: IncomingMessage): Promise<void> {
    const who = `user ${m.userId ?? 'unknown'} in chat ${m.chatId}`;
    if (!this.chats.has(m.chatId)) return this.log.warn(`ignored a message from ${who}: the chat is not on the allow-list`);
    const line = parseCommandLine(m.text, this.client?.botUsername ?? null);
    if (!line) return;
    // Telegram sends /start when someone opens a chat with the bot.
    const command = this.commands.table[line.name === 'start' ? 'help' : line.name];
    const reply = (replies: Reply[]) => this.reply(m, replies);
    if (!command) return reply([{ html: `Unknown command /${line.name.slice(0, 32)}. /help lists what I understand.` }]);
    const isOperator = m.userId !== null && this.operators.has(m.userId);
    if (command.operator && !isOperator) {
      this.log.warn(`refused /${line.name} from ${who}: not an operator`);
      return reply([{ html: `⛔ /${line.name} changes things: only operators may use it.` }]);
    }
    const caller: Caller = { chatId: m.chatId, userId: m.userId, messageId: m.messageId, isOperator, requestedBy: `telegram:${m.userId ?? 'unknown'}${m.username ? ` (@${m.username})` : ''}` };
    if (command.operator) this.log.log(`/${line.name} from ${who}`);
    try {
      await reply(await command.run(line.args, caller));
    } catch (err) {
      if (!isTellable(err)) {
        this.log.error(`/${line.name} from ${who} failed: ${(err as Error).message}`);
        return reply([{ html: `⚠️ /${line.name} failed; the notifier's log says why.` }]);
      }
      const usage = err.name === 'FlagError' ? `\nusage: ${command.usage}` : '';
      await reply([{ html: `⚠️ ${escape(err.message)}${escape(usage)}` }]);
    }
  }

  private async reply(m: IncomingMessage, replies: Reply[]): Promise<void> {
    if (!this.client) return;
    for (const r of replies) {
      if ('html' in r) await this.client.sendMessage(m.chatId, r.html, { replyTo: m.messageId });
      else await this.client.sendPhoto(m.chatId, r.png, r.caption, { replyTo: m.messageId });
    }
  }
}
