import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { InstanceStatus } from '@trainyard/contracts';

const bigintOrNull = { to: (v: number | null) => v, from: (v: string | null) => (v == null ? null : Number(v)) };

/**
 * One rented instance. The row is written (`creating`) before the API is asked, so a crash between
 * create and record still leaves the label behind for the reaper; every later move is a guarded
 * transition of the contracts' instance state machine (InstanceStore.transition).
 */
@Entity({ name: 'instances' })
export class InstanceEntity {
  @PrimaryColumn('text') id!: string;
  @Column('text', { unique: true }) label!: string;
  /** The broker process that rents and tunnels to it; rows of a process that stopped beating are orphans. */
  @Column('text', { name: 'boot_id' }) bootId!: string;
  @Column('bigint', { name: 'vast_id', nullable: true, transformer: bigintOrNull }) vastId!: number | null;
  @Column('bigint', { name: 'offer_id', transformer: { to: (v: number) => v, from: (v: string) => Number(v) } }) offerId!: number;
  @Column('text') status!: InstanceStatus;
  /** Bumped by every transition: the id of its event. */
  @Column('int') version!: number;
  /** The run whose waiting job made the broker rent it: it pays for an instance that never worked. */
  @Column('text', { name: 'run_id', nullable: true }) runId!: string | null;
  @Column('text', { name: 'gpu_name' }) gpuName!: string;
  @Column('int', { name: 'num_gpus' }) numGpus!: number;
  @Column('double precision', { name: 'gpu_memory_gb' }) gpuMemoryGb!: number;
  /** Compute plus storage, $/h, as now in force (an accepted increase included). */
  @Column('double precision', { name: 'price_per_hour' }) pricePerHour!: number;
  /** The disk's part of the price: billed from create to destroy, running or not. */
  @Column('double precision', { name: 'storage_per_hour' }) storagePerHour!: number;
  /** Compute billed up to `runningSince` (or up to when it stopped running). */
  @Column('double precision', { name: 'compute_spent' }) computeSpent!: number;
  /** Since when compute bills at the current price; null while not running. */
  @Column('timestamptz', { name: 'running_since', nullable: true }) runningSince!: Date | null;
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
  /** False from the destroy until instance.destroyed (what the run is billed) is on the bus. */
  @Column('boolean', { name: 'destroyed_published', default: true }) destroyedPublished!: boolean;
}
