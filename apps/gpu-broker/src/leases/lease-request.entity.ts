import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { JobSpec } from '@trainyard/contracts';

export type RequestStatus = 'pending' | 'leased' | 'cancelled';

/** A job attempt waiting for a slot; kept so a restart of the broker loses no queued work. */
@Entity({ name: 'lease_requests' })
export class LeaseRequestEntity {
  @PrimaryColumn('text', { name: 'job_id' }) jobId!: string;
  @PrimaryColumn('int') attempt!: number;
  @Column('int', { name: 'priority_rank' }) priorityRank!: number;
  @Column('jsonb') spec!: JobSpec;
  @Column('text') status!: RequestStatus;
  @Column('timestamptz', { name: 'requested_at' }) requestedAt!: Date;
  /** The W3C context of the request's run, for whatever is published about it later. */
  @Column('jsonb', { name: 'trace_context', nullable: true }) traceContext!: Record<string, string> | null;
  @Column('text', { name: 'cancel_reason', nullable: true }) cancelReason!: string | null;
}
