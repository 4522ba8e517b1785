import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Artifact, ErrorType, Metrics } from '@trainyard/contracts';

export type AttemptStatus = 'requested' | 'leased' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'lost' | 'timed_out';

/** One execution of a job, kept with its error so a failure's history survives retries. */
@Entity({ name: 'attempts' })
export class AttemptEntity {
  @PrimaryColumn('text', { name: 'job_id' }) jobId!: string;
  @PrimaryColumn('int') attempt!: number;
  @Column('text') status!: AttemptStatus;
  @Column('text', { name: 'agent_id', nullable: true }) agentId!: string | null;
  @Column('text', { name: 'lease_id', nullable: true }) leaseId!: string | null;
  @Column('timestamptz', { name: 'requested_at' }) requestedAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt!: Date | null;
  @Column('text', { name: 'error_type', nullable: true }) errorType!: ErrorType | null;
  @Column('text', { nullable: true }) message!: string | null;
  @Column('text', { name: 'stack_summary', nullable: true }) stackSummary!: string | null;
  /** Where the attempt's files and its attempt.log are in the artifact store. */
  @Column('text', { name: 'artifacts_prefix', nullable: true }) artifactsPrefix!: string | null;
  /** The trainer's code as its agent reported it at the start (a git commit, the built-in's version). */
  @Column('text', { name: 'code_version', nullable: true }) codeVersion!: string | null;
  @Column('jsonb', { nullable: true }) metrics!: Metrics | null;
  @Column('jsonb', { nullable: true }) artifacts!: Artifact[] | null;
  /** Its model is or was in production: tracking retention never deletes such a run. */
  @Column('boolean', { name: 'in_production', default: false }) inProduction!: boolean;
  @Column('timestamptz', { name: 'log_deleted_at', nullable: true }) logDeletedAt!: Date | null;
  /** A failed run's tracked data (metric series, mirror state) removed by retention; the attempt's outcome stays. */
  @Column('timestamptz', { name: 'purged_at', nullable: true }) purgedAt!: Date | null;
}
