import { ConflictException, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import { NatsBus } from '@trainyard/messaging';
import { Clock } from '@trainyard/runtime';
import { PromoterMetrics } from '../metrics/promoter.metrics';
import type { DecisionEntity } from '../registry/decision.entity';
import { keyId, keyName, variantField, type ModelKey } from '../registry/model-key';
import type { ModelVersionEntity } from '../registry/model-version.entity';
import { RegistryStore, type ManualRule } from '../registry/registry.store';
import { ProductionArtifacts } from './production-artifacts.service';

export interface ManualPromotion {
  symbol: string;
  /** `default` for the plain model, else the specialist whose production this was. */
  variant: ModelKey['variant'];
  version: number;
  fromVersion: number | null;
  productionUri: string;
  decision: DecisionEntity;
}

interface Switched extends ManualPromotion {
  target: ModelVersionEntity;
  /** The command had switched production already: nothing changed this time. */
  repeated: boolean;
}

/**
 * An operator's choice of production version: a rollback or a manual promotion of an earlier
 * version. It takes the same path as an automatic promotion (verify, copy, CURRENT.json last, stages
 * flipped in one transaction under the symbol's lock) and leaves everything as it was when refused.
 */
@Injectable()
export class ManualPromotionService {
  private readonly log = new Logger('ManualPromotion');

  constructor(
    private readonly store: RegistryStore,
    private readonly production: ProductionArtifacts,
    private readonly bus: NatsBus,
    private readonly clock: Clock,
    @Optional() private readonly metrics?: PromoterMetrics,
  ) {}

  /**
   * Back to `version`, or without one to the version that was in production before the current one.
   * `commandId`: the operator's command (or API Idempotency-Key); a repeat answers with what it did.
   */
  async rollback(key: ModelKey, version?: number, reason?: string, commandId?: string): Promise<ManualPromotion> {
    const done = await this.switchTo(key, version, 'manual_rollback', reason ?? 'rolled back by an operator', commandId);
    if (!done.repeated) this.metrics?.decided(done.decision);
    await this.bus.publish(
      'model.rolled_back',
      { symbol: key.symbol, ...variantField(key), version: done.version, runId: done.target.runId, jobId: done.target.jobId, fromVersion: done.fromVersion, reason: done.decision.reason },
      { id: `${keyId(key)}-v${done.version}-rolled-back-d${done.decision.id}` },
    );
    return withoutTarget(done);
  }

  async promote(key: ModelKey, version: number, reason?: string, commandId?: string): Promise<ManualPromotion> {
    const done = await this.switchTo(key, version, 'manual_promote', reason ?? 'promoted by an operator', commandId);
    if (!done.repeated) this.metrics?.decided(done.decision);
    const d = done.decision;
    await this.bus.publish(
      'model.promoted',
      {
        symbol: key.symbol,
        ...variantField(key),
        version: done.version,
        runId: done.target.runId,
        jobId: done.target.jobId,
        metrics: d.candidateMetrics,
        productionMetrics: d.productionMetrics,
        decision: { outcome: d.outcome, rule: d.rule, mode: d.mode, applied: d.applied, reason: d.reason },
        productionUri: d.productionUri,
      },
      // Apart from the automatic promotion's id: the same version may be promoted again by hand.
      { id: `${keyId(key)}-v${done.version}-promoted-d${d.id}` },
    );
    return withoutTarget(done);
  }

  /**
   * A command seen before (redelivered after its event failed to publish, or an API call retried after
   * a 5xx) finds its decision and is not applied again: applied twice, a rollback without a version
   * would switch back to the version it had just left.
   */
  private switchTo(key: ModelKey, requested: number | undefined, rule: ManualRule, reason: string, commandId?: string): Promise<Switched> {
    const { symbol, variant } = key;
    const name = keyName(key);
    return this.store.underProductionLock(key, async (tx) => {
      const earlier = commandId ? await tx.commandDecision(commandId) : null;
      if (earlier) {
        const { decision, version } = earlier;
        // Refused before any file is written: switching production here would fail on the unique command id only after CURRENT.json had moved.
        if (decision.symbol !== symbol || decision.variant !== variant) throw new ConflictException(`command ${commandId} was already used for ${keyName(decision)}, not ${name}`);
        return { symbol, variant, version: version.version, fromVersion: decision.productionVersion, productionUri: decision.productionUri ?? '', decision, target: version, repeated: true };
      }
      const target = requested === undefined ? await tx.previousProduction() : await tx.version(requested);
      if (!target) {
        if (requested !== undefined) {
          // A version number of another symbol (or variant) is still a version that does not exist for this one.
          throw new NotFoundException(`${name} has no version ${requested}`);
        }
        throw new ConflictException(`${name} has no earlier production version to roll back to`);
      }
      if (target.stage === 'production') throw new ConflictException(`${name} v${target.version} is already in production`);
      const refusal = await this.production.verifyForRestore(target);
      if (refusal) throw new ConflictException(`${name} v${target.version} refused (${refusal.rule}): ${refusal.reason}`);

      const current = await tx.production();
      const now = this.clock.now();
      const productionUri = await this.production.publish(target, now);
      await tx.makeProduction(target, now);
      const decision = await tx.recordDecision({
        versionId: target.id,
        symbol,
        variant,
        outcome: 'promote',
        rule,
        mode: 'auto',
        applied: true,
        reason,
        candidateMetrics: target.metrics,
        productionVersion: current?.version ?? null,
        productionMetrics: current?.metrics ?? null,
        productionUri,
        commandId: commandId ?? null,
      });
      this.log.log({
        event: rule === 'manual_rollback' ? 'model_rolled_back' : 'model_promoted',
        runId: target.runId,
        jobId: target.jobId,
        symbol,
        variant,
        version: target.version,
        fromVersion: current?.version ?? null,
        rule,
        msg: `${name} v${target.version} put into production by ${rule} (was ${current ? `v${current.version}` : 'none'}): ${reason}`,
      });
      return { symbol, variant, version: target.version, fromVersion: current?.version ?? null, productionUri, decision, target, repeated: false };
    });
  }
}

const withoutTarget = ({ target: _target, repeated: _repeated, ...rest }: Switched): ManualPromotion => rest;
