import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ErrorType } from '@trainyard/contracts';

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
}
