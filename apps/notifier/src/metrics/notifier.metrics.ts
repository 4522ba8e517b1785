import { Global, Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MetricsModule, MetricsRegistry } from '@trainyard/runtime';

const KINDS = ['run.started', 'run.completed', 'model.digest', 'storage.quota_warning'];

/**
 * The notifier's series: notifications sent, by the event that caused them, counted from its
 * message log (a message is recorded once delivered, and exactly once), so the count survives restarts.
 */
@Injectable()
export class NotifierMetrics {
  constructor(metrics: MetricsRegistry, ds: DataSource) {
    metrics.sampledCounter({
      name: 'trainyard_notifications_sent_total',
      help: 'Notifications delivered (Telegram or the log), by the event that caused them',
      labelNames: ['kind'],
      zeros: KINDS.map((kind) => ({ kind })),
      sample: async () => {
        const rows: { kind: string; n: number }[] = await ds.query(`SELECT kind, count(*)::int AS n FROM notifier.messages GROUP BY kind`);
        return rows.map((r) => ({ labels: { kind: r.kind }, value: r.n }));
      },
    });
  }
}

/** `GET /metrics` for the notifier. */
@Global()
@Module({
  imports: [MetricsModule.forRoot({ service: 'notifier' })],
  providers: [NotifierMetrics],
  exports: [NotifierMetrics],
})
export class NotifierMetricsModule {}
