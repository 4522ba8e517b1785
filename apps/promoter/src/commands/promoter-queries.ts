import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { DataSource } from 'typeorm';
import type { QueryResponseInput, Variant, VersionView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ModelVersionEntity } from '../registry/model-version.entity';
import { keyOf, variantField } from '../registry/model-key';
import { RegistryStore } from '../registry/registry.store';

/** Answers the bus's questions about model versions (the bot's /models, and the charts of a run's promotions). */
@Injectable()
export class PromoterQueries implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private subs: Subscription[] = [];

  constructor(
    private readonly registry: RegistryStore,
    private readonly ds: DataSource,
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
    return { symbol, ...variantField(key), total, versions: await Promise.all(items.map((v) => this.view(v))) };
  }

  async ofRun(runId: string): Promise<QueryResponseInput<'models.of_run'>> {
    const versions = await this.ds.getRepository(ModelVersionEntity).find({ where: { runId }, order: { symbol: 'ASC', variant: 'ASC', version: 'ASC' } });
    return {
      versions: await Promise.all(
        versions.map(async (v) => {
          const view = await this.view(v);
          const against = view.decision?.productionVersion;
          const baseline = against ? await this.registry.findVersion(v, against) : null;
          return { ...view, baseline: baseline ? await this.view(baseline) : null };
        }),
      ),
    };
  }

  private async view(v: ModelVersionEntity): Promise<VersionView> {
    const d = await this.registry.decisionOf(v.id);
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
}
