import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { LedgerEntryEntity } from './ledger-entry.entity';

/** The ledger: what each training (date, symbol, training hash) came to, so a run skips what is done and resumes what is not. */
@Injectable()
export class LedgerRepository {
  constructor(private readonly ds: DataSource) {}

  /** Entries of these symbols for one data date. */
  forDate(date: string, symbols: string[]): Promise<LedgerEntryEntity[]> {
    if (symbols.length === 0) return Promise.resolve([]);
    return this.ds.getRepository(LedgerEntryEntity).find({ where: { date, symbol: In(symbols) } });
  }

  /** Records a training's outcome in the caller's transaction; a failure never overwrites an earlier success. */
  async record(em: EntityManager, entry: Omit<LedgerEntryEntity, 'recordedAt'>, at: Date): Promise<void> {
    await em.query(
      `INSERT INTO scheduler.ledger (date, symbol, training_hash, outcome, job_id, attempt, artifacts_prefix, checkpoint, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (date, symbol, training_hash) DO UPDATE SET
         outcome = EXCLUDED.outcome, job_id = EXCLUDED.job_id, attempt = EXCLUDED.attempt,
         artifacts_prefix = EXCLUDED.artifacts_prefix, checkpoint = EXCLUDED.checkpoint, recorded_at = EXCLUDED.recorded_at
       WHERE scheduler.ledger.outcome <> 'succeeded' OR EXCLUDED.outcome = 'succeeded'`,
      [entry.date, entry.symbol, entry.trainingHash, entry.outcome, entry.jobId, entry.attempt, entry.artifactsPrefix, entry.checkpoint ? JSON.stringify(entry.checkpoint) : null, at],
    );
  }
}
