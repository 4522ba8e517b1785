import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { CheckpointRef } from '@trainyard/contracts';

export type LedgerOutcome = 'succeeded' | 'failed';

/**
 * The resume ledger: the outcome of each training (data date, symbol, training hash) across runs.
 * A success is skipped by later runs unless forced; a failure hands its last checkpoint on.
 */
@Entity({ name: 'ledger' })
export class LedgerEntryEntity {
  @PrimaryColumn('text') date!: string;
  @PrimaryColumn('text') symbol!: string;
  @PrimaryColumn('text', { name: 'training_hash' }) trainingHash!: string;
  @Column('text') outcome!: LedgerOutcome;
  @Column('text', { name: 'job_id' }) jobId!: string;
  @Column('int') attempt!: number;
  @Column('text', { name: 'artifacts_prefix', nullable: true }) artifactsPrefix!: string | null;
  @Column('jsonb', { nullable: true }) checkpoint!: CheckpointRef | null;
  @Column('timestamptz', { name: 'recorded_at' }) recordedAt!: Date;
}
