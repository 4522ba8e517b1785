import { Column, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { trainingHash, type CheckpointRef, type ErrorType, type JobDefinition, type JobStatus, type Metrics } from '@trainyard/contracts';

export interface JobProgressSnapshot {
  percent: number;
  epoch?: number;
  step?: number;
  loss?: number;
  validationMetric?: number;
  etaSeconds?: number;
  at: string;
}

@Entity({ name: 'jobs' })
@Index(['runId', 'status'])
@Index(['symbol', 'status'])
export class JobEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text', { name: 'run_id' }) runId!: string;
  @Column('text') symbol!: string;
  @Column('text') status!: JobStatus;
  /** The current attempt; events of older attempts are stale and ignored. */
  @Column('int') attempt!: number;
  @Column('int', { name: 'max_attempts' }) maxAttempts!: number;
  @Column('int', { name: 'priority_rank' }) priorityRank!: number;
  /** From the symbol's past durations; longest first within a priority. */
  @Column('double precision', { name: 'expected_seconds' }) expectedSeconds!: number;
  @Column('jsonb') definition!: JobDefinition;
  @Column('text', { name: 'spec_hash' }) specHash!: string;
  /** trainingHash(definition): the ledger's key for what this job trains. */
  @Column('text', { name: 'training_hash' }) trainingHash!: string;
  @Column('text', { name: 'lease_id', nullable: true }) leaseId!: string | null;
  @Column('text', { name: 'agent_id', nullable: true }) agentId!: string | null;
  @Column('double precision', { name: 'price_per_hour', default: 0 }) pricePerHour!: number;
  @Column('timestamptz', { name: 'released_at', nullable: true }) releasedAt!: Date | null;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('timestamptz', { name: 'next_attempt_at', nullable: true }) nextAttemptAt!: Date | null;
  @Column('double precision', { name: 'train_seconds', nullable: true }) trainSeconds!: number | null;
  @Column('jsonb', { nullable: true }) metrics!: Metrics | null;
  @Column('text', { name: 'artifacts_prefix', nullable: true }) artifactsPrefix!: string | null;
  @Column('text', { name: 'error_type', nullable: true }) errorType!: ErrorType | null;
  @Column('text', { name: 'error_message', nullable: true }) errorMessage!: string | null;
  @Column('jsonb', { nullable: true }) checkpoint!: CheckpointRef | null;
  /** The checkpoints before `checkpoint`, newest first (at most EARLIER_CHECKPOINTS). */
  @Column('jsonb', { name: 'earlier_checkpoints', default: () => "'[]'" }) earlierCheckpoints!: CheckpointRef[];
  @Column('double precision', { default: 0 }) cost!: number;
  /** The latest progress report of the current attempt (reports are sampled by the agent). */
  @Column('jsonb', { nullable: true }) progress!: JobProgressSnapshot | null;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

/** A job row to insert, with the training hash of its definition. */
export function withTrainingHash(job: QueryDeepPartialEntity<JobEntity>): QueryDeepPartialEntity<JobEntity> {
  return { ...job, trainingHash: trainingHash(job.definition as JobDefinition) };
}
