import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface DigestLine {
  id: number;
  line: string;
}

const BATCH = 500;

/** Lines waiting for the next digest message; a line is queued once however often its event comes. */
@Injectable()
export class DigestStore {
  constructor(private readonly ds: DataSource) {}

  async queue(dedupeKey: string, line: string, at: Date): Promise<void> {
    await this.ds.query(`INSERT INTO notifier.digest_lines (dedupe_key, line, created_at) VALUES ($1, $2, $3) ON CONFLICT (dedupe_key) DO NOTHING`, [dedupeKey, line, at]);
  }

  /**
   * Sends the waiting lines as one message and marks them sent, under a lock so two notifier
   * replicas never send the same lines; a failed send leaves them waiting. Returns the lines sent.
   */
  flush(send: (lines: DigestLine[]) => Promise<{ text: string; sentAt: Date }>): Promise<number> {
    return this.ds.transaction(async (em) => {
      await em.query(`SELECT pg_advisory_xact_lock(hashtext('notifier.digest'))`);
      const lines: DigestLine[] = await em.query(`SELECT id, line FROM notifier.digest_lines WHERE sent_at IS NULL ORDER BY id LIMIT ${BATCH}`);
      if (lines.length === 0) return 0;
      const { text, sentAt } = await send(lines);
      const ids = lines.map((l) => l.id);
      await em.query(`UPDATE notifier.digest_lines SET sent_at = $1 WHERE id = ANY($2)`, [sentAt, ids]);
      await em.query(`INSERT INTO notifier.messages (kind, dedupe_key, text, sent_at) VALUES ('model.digest', $1, $2, $3)`, [`digest:${ids[0]}-${ids[ids.length - 1]}`, text, sentAt]);
      return lines.length;
    });
  }
}
