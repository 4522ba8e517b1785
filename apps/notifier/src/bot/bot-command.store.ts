import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A command the bot put on the bus for someone, so its outcome can be told to the chat it came from. */
export interface BotCommand {
  /** The command message's id, which its command.result names. */
  id: string;
  command: string;
  /** What the command is about when the outcome comes as another event (the run id of a /run). */
  subject: string | null;
  chatId: string;
  replyTo: number;
  requestedBy: string;
}

@Injectable()
export class BotCommandStore {
  constructor(private readonly ds: DataSource) {}

  async record(c: BotCommand, at: Date): Promise<void> {
    await this.ds.query(`INSERT INTO notifier.bot_commands (id, command, subject, chat_id, reply_to, requested_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`, [
      c.id,
      c.command,
      c.subject,
      c.chatId,
      c.replyTo,
      c.requestedBy,
      at,
    ]);
  }

  async byId(id: string): Promise<BotCommand | null> {
    return this.one(`SELECT * FROM notifier.bot_commands WHERE id = $1`, [id]);
  }

  async bySubject(command: string, subject: string): Promise<BotCommand | null> {
    return this.one(`SELECT * FROM notifier.bot_commands WHERE command = $1 AND subject = $2 ORDER BY created_at LIMIT 1`, [command, subject]);
  }

  private async one(sql: string, params: unknown[]): Promise<BotCommand | null> {
    const [row]: { id: string; command: string; subject: string | null; chat_id: string; reply_to: number; requested_by: string }[] = await this.ds.query(sql, params);
    return row ? { id: row.id, command: row.command, subject: row.subject, chatId: row.chat_id, replyTo: row.reply_to, requestedBy: row.requested_by } : null;
  }
}
