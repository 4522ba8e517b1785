import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Decision, Metrics, PromotionPolicy, Variant } from '@trainyard/contracts';

/** What was decided about a version, against which production model, and whether it was applied. */
@Entity({ name: 'decisions' })
export class DecisionEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column('int', { name: 'version_id' }) versionId!: number;
  @Column('text') symbol!: string;
  @Column('text', { default: 'default' }) variant!: Variant;
  @Column('text') outcome!: Decision['outcome'];
  @Column('text') rule!: string;
  /** The promotion policy in effect, after a canary or PROMOTER_DRY_ONLY downgrade. */
  @Column('text') mode!: PromotionPolicy;
  @Column('boolean') applied!: boolean;
  @Column('text') reason!: string;
  @Column('jsonb', { name: 'candidate_metrics' }) candidateMetrics!: Metrics;
  @Column('int', { name: 'production_version', nullable: true }) productionVersion!: number | null;
  @Column('jsonb', { name: 'production_metrics', nullable: true }) productionMetrics!: Metrics | null;
  /** The production pointer once this version is in it. */
  @Column('text', { name: 'production_uri', nullable: true }) productionUri!: string | null;
  /** The operator's command (or API Idempotency-Key) that made a manual decision; a repeat finds it. */
  @Column('text', { name: 'command_id', nullable: true }) commandId!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
