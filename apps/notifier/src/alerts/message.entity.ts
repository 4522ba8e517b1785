import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { EventName } from '@trainyard/contracts';

/** A message as sent; its dedupe key, derived from the event's data, keeps a redelivered event from sending twice. */
@Entity({ name: 'messages' })
export class MessageEntity {
  @PrimaryGeneratedColumn() id!: number;
  /** The event that caused it. */
  @Column('text') kind!: EventName | 'model.digest';
  @Column('text', { name: 'dedupe_key' }) dedupeKey!: string;
  /** Telegram HTML, as sent. */
  @Column('text') text!: string;
  @Column('timestamptz', { name: 'sent_at' }) sentAt!: Date;
}
