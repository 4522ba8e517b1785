import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Artifact, Costs, Metrics, PromotionPolicy, Variant } from '@trainyard/contracts';

export type ModelStage = 'candidate' | 'production' | 'archived';

export interface EvaluationWindow {
  from: string;
  to: string;
  candles: number;
}

/** The artifacts of one successful attempt, numbered per symbol and variant in the order they were registered. */
@Entity({ name: 'model_versions' })
export class ModelVersionEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('text') symbol!: string;
  /** `default` for the plain model; a regime specialist's versions, production and retention are its own. */
  @Column('text', { default: 'default' }) variant!: Variant;
  @Column('int') version!: number;
  @Column('text', { name: 'run_id' }) runId!: string;
  @Column('text', { name: 'job_id' }) jobId!: string;
  @Column('int') attempt!: number;
  /** The promotion the run asked for, kept so a version can be decided again without its event. */
  @Column('text') promote!: PromotionPolicy;
  @Column('boolean') canary!: boolean;
  @Column('text', { name: 'artifacts_prefix' }) artifactsPrefix!: string;
  @Column('jsonb') artifacts!: Artifact[];
  @Column('jsonb') metrics!: Metrics;
  @Column('text') featureset!: string;
  @Column('jsonb') costs!: Costs;
  @Column('jsonb', { name: 'evaluation_window' }) evaluationWindow!: EvaluationWindow;
  @Column('text', { default: 'candidate' }) stage!: ModelStage;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column('timestamptz', { name: 'promoted_at', nullable: true }) promotedAt!: Date | null;
  /** When retention deleted the trainer's artifacts; a production copy may outlive them. */
  @Column('timestamptz', { name: 'pruned_at', nullable: true }) prunedAt!: Date | null;
}
