import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MessageEntity } from './message.entity';

export type OutgoingMessage = Pick<MessageEntity, 'kind' | 'dedupeKey' | 'text'>;

/** The message log, which doubles as the record of what must not be sent again. */
@Injectable()
export class MessageStore {
  constructor(private readonly ds: DataSource) {}

  async ping(): Promise<void> {
    await this.ds.query('SELECT 1');
  }

  /**
   * Calls `deliver` unless a message with this key was sent, and records it. The key's lock is held
   * across the delivery, so a duplicate handled at the same time waits, then finds it sent. False
   * when it had been sent already.
   */
  sendOnce(message: OutgoingMessage, deliver: () => Promise<Date>): Promise<boolean> {
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('notifier.messages'), hashtext($1))`, [message.dedupeKey]);
      const messages = em.getRepository(MessageEntity);
      if (await messages.existsBy({ dedupeKey: message.dedupeKey })) return false;
      const sentAt = await deliver();
      await messages.insert({ ...message, sentAt });
      return true;
    });
  }
}
