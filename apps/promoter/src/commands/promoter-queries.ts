import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import type { QueryResponseInput, Variant, VersionView } from '@trainyard/contracts';
import { MESSAGE_HEADER_ROOM, NatsBus, runModelsAnswer } from '@trainyard/messaging';
import type { DecisionEntity } from '../registry/decision.entity';
import type { ModelVersionEntity } from '../registry/model-version.entity';
import { keyOf, variantField } from '../registry/model-key';
import { RegistryStore } from '../registry/registry.store';

/** Answers the bus's questions about model versions (the bot's /models, and the charts of a run's promotions). */
@Injectable()
export class PromoterQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subs: Subscription[] = [];

  constructor(
    private readonly registry: RegistryStore,
    private readonly bus: NatsBus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.subs = await Promise.all([
      this.bus.answer('models.versions', ({ symbol, variant, limit }) => this.versions(symbol, limit, variant)),
      this.bus.answer('models.of_run', ({ runId }) => this.ofRun(runId)),
    ]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.subs.map((s) => s.drain()));
  }

  /** The newest versions of the symbol's plain model, or of one of its specialists, newest first. */
  async versions(symbol: string, limit: number, variant?: Variant): Promise<QueryResponseInput<'models.versions'>> {
    const key = keyOf(symbol, variant);
    const { items, total } = await this.registry.listVersions({ ...key, limit, offset: 0 });
    const decisions = await this.registry.decisionsOfVersions(items.map((v) => v.id));
    return { symbol, ...variantField(key), total, versions: items.map((v) => viewOf(v, decisions.get(v.id))) };
  }

  /** A few reads whatever the run's size (a 5,000-symbol run asked two per version before), cut to fit one reply. */
  async ofRun(runId: string): Promise<QueryResponseInput<'models.of_run'>> {
    const versions = await this.registry.versionsOfRun(runId);
    const decisions = await this.registry.decisionsOfVersions(versions.map((v) => v.id));
    const against = versions.flatMap((v) => {
      const version = decisions.get(v.id)?.productionVersion;
      return version ? [{ symbol: v.symbol, variant: v.variant, version }] : [];
    });
    const baselines = await this.registry.findVersions(against);
    const baselineDecisions = await this.registry.decisionsOfVersions(baselines.map((b) => b.id));
    const byNumber = new Map(baselines.map((b) => [`${b.symbol}/${b.variant}/${b.version}`, b]));
    const views = versions.map((v) => {
      const decision = decisions.get(v.id);
      const baseline = decision?.productionVersion ? byNumber.get(`${v.symbol}/${v.variant}/${decision.productionVersion}`) : undefined;
      return { ...viewOf(v, decision), baseline: baseline ? viewOf(baseline, baselineDecisions.get(baseline.id)) : null };
    });
    return runModelsAnswer(views, this.bus.maxPayload - MESSAGE_HEADER_ROOM);
  }
}

/** A version as the bus shows it, with its automatic decision. */
function viewOf(v: ModelVersionEntity, d: DecisionEntity | undefined): VersionView {
  return {
    symbol: v.symbol,
    ...variantField(v),
    version: v.version,
    stage: v.stage,
    runId: v.runId,
    jobId: v.jobId,
    createdAt: v.createdAt.toISOString(),
    promotedAt: v.promotedAt?.toISOString() ?? null,
    metrics: v.metrics,
    artifactsPrefix: v.artifactsPrefix,
    pruned: v.prunedAt !== null,
    decision: d ? { outcome: d.outcome, rule: d.rule, mode: d.mode, applied: d.applied, reason: d.reason, productionVersion: d.productionVersion } : null,
  };
}
