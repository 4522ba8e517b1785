import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { ConcurrencyMode, Priority, RunRequest, RunState, RunSummary, Trigger } from '@trainyard/contracts';

@Entity({ name: 'runs' })
export class RunEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') date!: string;
  @Column('text') trigger!: Trigger;
  @Column('text') status!: RunState;
  @Column('text') mode!: ConcurrencyMode;
  @Column('int', { name: 'max_concurrent' }) maxConcurrent!: number;
  @Column('text') priority!: Priority;
  /** The request as received, after defaults: what the run was asked to do. */
  @Column('jsonb') request!: RunRequest;
  @Column('int', { name: 'total_jobs' }) totalJobs!: number;
  @Column('jsonb', { default: () => "'[]'::jsonb" }) skipped!: { symbol: string; reason: string }[];
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt!: Date | null;
  /** Set once run.completed is on the bus; a restart republishes until it is. */
  @Column('boolean', { name: 'completion_published', default: false }) completionPublished!: boolean;
  @Column('jsonb', { nullable: true }) summary!: RunSummary | null;
  @Column('text', { name: 'summary_uri', nullable: true }) summaryUri!: string | null;
  /** The W3C trace context of the request's processing: every later publish for the run joins it. */
  @Column('jsonb', { name: 'trace_context', nullable: true }) traceContext!: Record<string, string> | null;
}
