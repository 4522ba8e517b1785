import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Subscription } from '@nats-io/nats-core';
import { DataSource } from 'typeorm';
import type { QueryResponseInput, VersionView } from '@trainyard/contracts';
import { NatsBus } from '@trainyard/messaging';
import { ModelVersionEntity } from '../registry/model-version.entity';
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
      this.bus.answer('models.versions', ({ symbol, limit }) => this.versions(symbol, limit)),
      this.bus.answer('models.of_run', ({ runId }) => this.ofRun(runId)),
    ]);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.allSettled(this.subs.map((s) => s.drain()));
  }

  /** The symbol's newest versions, newest first. */
  async versions(symbol: string, limit: number): Promise<QueryResponseInput<'models.versions'>> {
    const { items, total } = await this.registry.listVersions({ symbol, limit, offset: 0 });
    return { symbol, total, versions: await Promise.all(items.map((v) => this.view(v))) };
  }

  async ofRun(runId: string): Promise<QueryResponseInput<'models.of_run'>> {
    const versions = await this.ds.getRepository(ModelVersionEntity).find({ where: { runId }, order: { symbol: 'ASC', version: 'ASC' } });
    return {
      versions: await Promise.all(
        versions.map(async (v) => {
          const view = await this.view(v);
          const against = view.decision?.productionVersion;
          const baseline = against ? await this.registry.findVersion(v.symbol, against) : null;
          return { ...view, baseline: baseline ? await this.view(baseline) : null };
        }),
      ),
    };
  }

  private async view(v: ModelVersionEntity): Promise<VersionView> {
    const d = await this.registry.decisionOf(v.id);
    return {
      symbol: v.symbol,
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
