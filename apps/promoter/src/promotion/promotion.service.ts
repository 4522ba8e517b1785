import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { PROMOTER_CONFIG, promotionFloors, type PromoterConfig } from '../config/promoter.config';
import { PromoterMetrics } from '../metrics/promoter.metrics';
import type { DecisionEntity } from '../registry/decision.entity';
import { keyId, keyName, variantField } from '../registry/model-key';
import type { ModelVersionEntity } from '../registry/model-version.entity';
import { RegistryStore, type NewDecision } from '../registry/registry.store';
import { ProductionArtifacts } from './production-artifacts.service';
import { decidePromotion, effectivePolicy } from './promotion-rules';

/**
 * Decides each version once, against the production model of the moment, and under the `auto` policy puts the
 * winner into production. Deciding and applying happen under the symbol's lock in one transaction,
 * so a failure leaves no decision behind and the redelivered event starts over; a decision that
 * cannot apply (policy off or dry) takes no lock.
 */
@Injectable()
export class PromotionService {
  private readonly log = new Logger('Promotion');

  constructor(
    private readonly store: RegistryStore,
    private readonly production: ProductionArtifacts,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Inject(PROMOTER_CONFIG) private readonly cfg: PromoterConfig,
    @Optional() private readonly metrics?: PromoterMetrics,
  ) {}

  /**
   * `fresh`: the version was registered by this delivery, so no earlier decision is looked for outside
   * the lock; `production`, when given, is the key's production version as its registration read it.
   */
  async evaluate(version: ModelVersionEntity, fresh = false, production?: ModelVersionEntity | null): Promise<DecisionEntity> {
    const earlier = fresh ? null : await this.store.decisionOf(version.id);
    const decision = earlier ?? (await this.decide(version, production));
    if (!earlier) this.metrics?.decided(decision);
    await this.announce(version, decision);
    return decision;
  }

  private async decide(version: ModelVersionEntity, production?: ModelVersionEntity | null): Promise<DecisionEntity> {
    // A decision that cannot change production (policy off or dry) needs no lock: compared with
    // production as last committed (or as the registration read it), and recorded once by the unique index.
    if (effectivePolicy(version.promote, version.canary, this.cfg.PROMOTER_DRY_ONLY).policy !== 'auto') {
      const current = production === undefined ? await this.store.production(version) : production;
      return this.store.recordDecisionOnce(this.decision(version, current));
    }
    // A specialist's lock, production and comparison are its own (symbol and variant).
    return this.store.underProductionLock(version, async (tx) => {
      const earlier = await tx.decisionOf(version.id);
      if (earlier) return earlier;
      const current = await tx.production();
      const row = this.decision(version, current);
      if (row.outcome === 'promote' && row.mode === 'auto') {
        const refusal = await this.production.verify(version);
        if (refusal) {
          Object.assign(row, { outcome: 'reject', ...refusal });
        } else {
          const now = this.clock.now();
          row.productionUri = await this.production.publish(version, now);
          await tx.makeProduction(version, now);
          row.applied = true;
        }
      }
      return tx.recordDecision(row);
    });
  }

  /** The rules' verdict on `version` against `current`, as a decision row (not applied). */
  private decision(version: ModelVersionEntity, current: ModelVersionEntity | null): NewDecision {
    const verdict = decidePromotion({
      requested: version.promote,
      canary: version.canary,
      dryOnly: this.cfg.PROMOTER_DRY_ONLY,
      candidate: version,
      production: current,
      floors: promotionFloors(this.cfg),
    });
    return {
      ...verdict,
      versionId: version.id,
      symbol: version.symbol,
      variant: version.variant,
      candidateMetrics: version.metrics,
      productionVersion: current?.version ?? null,
      productionMetrics: current?.metrics ?? null,
      productionUri: null,
    };
  }

  /** Tells the bus on every delivery, with ids derived from the version, so a lost publish is made good. */
  private async announce(version: ModelVersionEntity, d: DecisionEntity): Promise<void> {
    const name = `${keyName(version)} v${version.version}`;
    const fields = {
      runId: version.runId,
      jobId: version.jobId,
      symbol: version.symbol,
      variant: version.variant,
      version: version.version,
      outcome: d.outcome,
      rule: d.rule,
      mode: d.mode,
      applied: d.applied,
    };
    if (d.outcome === 'skipped') {
      this.log.log({ event: 'model_not_evaluated', ...fields, msg: `${name}: not evaluated (${d.reason})` });
      return;
    }
    const ref = {
      symbol: version.symbol,
      ...variantField(version),
      version: version.version,
      runId: version.runId,
      jobId: version.jobId,
      metrics: d.candidateMetrics,
      productionMetrics: d.productionMetrics,
    };
    const decision = { outcome: d.outcome, rule: d.rule, mode: d.mode, applied: d.applied, reason: d.reason };
    if (d.outcome === 'promote') {
      await this.bus.publish('model.promoted', { ...ref, decision, productionUri: d.productionUri }, { id: `${keyId(version)}-v${version.version}-promoted` });
      this.log.log({ event: d.applied ? 'model_promoted' : 'model_would_promote', ...fields, msg: `${name} ${d.applied ? 'promoted' : 'would be promoted'} by ${d.rule}: ${d.reason}` });
    } else {
      await this.bus.publish('model.rejected', { ...ref, decision }, { id: `${keyId(version)}-v${version.version}-rejected` });
      this.log.log({ event: 'model_rejected', ...fields, msg: `${name} ${d.outcome === 'reject' ? 'rejected' : 'not comparable'} by ${d.rule}: ${d.reason}` });
    }
  }
}
