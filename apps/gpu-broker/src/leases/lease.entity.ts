import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { JobSpec, LeaseStatus, Provider } from '@trainyard/contracts';

@Entity({ name: 'leases' })
@Index(['agentId', 'status'])
export class LeaseEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text', { name: 'job_id' }) jobId!: string;
  @Column('int') attempt!: number;
  @Column('text', { name: 'agent_id' }) agentId!: string;
  @Column('text') provider!: Provider;
  /** `gpu:<index>` or `cpu`. */
  @Column('text') device!: string;
  @Column('double precision', { name: 'gpu_memory_gb' }) gpuMemoryGb!: number;
  @Column('double precision', { name: 'price_per_hour' }) pricePerHour!: number;
  @Column('text') status!: LeaseStatus;
  @Column('jsonb') spec!: JobSpec;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'ends_by' }) endsBy!: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt!: Date | null;
  @Column('timestamptz', { name: 'ended_at', nullable: true }) endedAt!: Date | null;
  @Column('text', { name: 'end_reason', nullable: true }) endReason!: string | null;
  @Column('jsonb', { name: 'trace_context', nullable: true }) traceContext!: Record<string, string> | null;
  /** False from the lease's end until its lease.lost or lease.released is on the bus. */
  @Column('boolean', { name: 'outcome_published', default: true }) outcomePublished!: boolean;
  /** Since when the agent's heartbeats leave this active lease out; null while they list it. */
  @Column('timestamptz', { name: 'missing_since', nullable: true }) missingSince!: Date | null;
}
