import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { GpuInfo, Provider } from '@trainyard/contracts';

export type AgentStatus = 'alive' | 'silent';

@Entity({ name: 'agents' })
export class AgentEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text') host!: string;
  @Column('text') provider!: Provider;
  @Column('jsonb') gpus!: GpuInfo[];
  @Column('int', { name: 'cpu_slots' }) cpuSlots!: number;
  @Column('text') status!: AgentStatus;
  /** The agent process's start; a new value means it restarted and forgot what it ran. */
  @Column('timestamptz', { name: 'started_at' }) startedAt!: Date;
  @Column('timestamptz', { name: 'last_seen_at' }) lastSeenAt!: Date;
}
