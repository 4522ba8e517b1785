import { Global, Injectable, Module } from '@nestjs/common';
import { MetricsModule, MetricsRegistry } from '@trainyard/runtime';

/** The promoter's series: its decisions, counted as they are made. */
@Injectable()
export class PromoterMetrics {
  readonly promotions;

  constructor(metrics: MetricsRegistry) {
    this.promotions = metrics.counter('trainyard_promotions_total', 'Promotion decisions made, by decision (outcome), rule, mode and whether applied', ['decision', 'rule', 'mode', 'applied']);
  }

  decided(d: { outcome: string; rule: string; mode: string; applied: boolean }): void {
    this.promotions.inc({ decision: d.outcome, rule: d.rule, mode: d.mode, applied: String(d.applied) });
  }
}

/** `GET /metrics` for the promoter. */
@Global()
@Module({
  imports: [MetricsModule.forRoot({ service: 'promoter' })],
  providers: [PromoterMetrics],
  exports: [PromoterMetrics],
})
export class PromoterMetricsModule {}
