import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * `creating` is written before the API is asked, so a crash between create and record still leaves
 * the label behind for the reaper; `destroying` stays until the API confirms the instance is gone.
 */
export type InstanceStatus = 'creating' | 'provisioning' | 'bootstrapping' | 'ready' | 'destroying' | 'destroyed';
export const LIVE_INSTANCE: InstanceStatus[] = ['creating', 'provisioning', 'bootstrapping', 'ready', 'destroying'];

@Entity({ name: 'instances' })
export class InstanceEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text', { unique: true }) label!: string;
  /** The broker process that rents and tunnels to it; rows of a process that stopped beating are orphans. */
  @Column('text', { name: 'boot_id' }) bootId!: string;
  @Column('bigint', { name: 'vast_id', nullable: true, transformer: { to: (v) => v, from: (v) => (v == null ? null : Number(v)) } }) vastId!: number | null;
  @Column('bigint', { name: 'offer_id', transformer: { to: (v) => v, from: (v) => Number(v) } }) offerId!: number;
  @Column('text') status!: InstanceStatus;
  @Column('text', { name: 'gpu_name' }) gpuName!: string;
  @Column('int', { name: 'num_gpus' }) numGpus!: number;
  @Column('double precision', { name: 'gpu_memory_gb' }) gpuMemoryGb!: number;
  @Column('double precision', { name: 'price_per_hour' }) pricePerHour!: number;
  @Column('boolean') interruptible!: boolean;
  @Column('text', { name: 'agent_id', nullable: true }) agentId!: string | null;
  @Column('text', { name: 'ssh_host', nullable: true }) sshHost!: string | null;
  @Column('int', { name: 'ssh_port', nullable: true }) sshPort!: number | null;
  /** SHA-256 of the host key seen on first contact. */
  @Column('text', { name: 'host_key', nullable: true }) hostKey!: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'ready_at', nullable: true }) readyAt!: Date | null;
  @Column('timestamptz', { name: 'last_busy_at', nullable: true }) lastBusyAt!: Date | null;
  @Column('timestamptz', { name: 'destroyed_at', nullable: true }) destroyedAt!: Date | null;
  @Column('text', { name: 'destroy_reason', nullable: true }) destroyReason!: string | null;
  @Column('text', { nullable: true }) detail!: string | null;
}
