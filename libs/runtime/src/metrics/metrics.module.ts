import { Module, type DynamicModule } from '@nestjs/common';
import { MessagingMetrics } from './messaging.metrics';
import { MetricsController } from './metrics.controller';
import { METRICS_OPTIONS, MetricsRegistry, type MetricsOptions } from './metrics.registry';

/**
 * `GET /metrics` on the service's HTTP server: process metrics, dead letters, and whatever series
 * the app adds through the injectable MetricsRegistry (one Registry per app instance).
 */
@Module({})
export class MetricsModule {
  static forRoot(options: MetricsOptions): DynamicModule {
    return {
      module: MetricsModule,
      global: true,
      controllers: [MetricsController],
      providers: [{ provide: METRICS_OPTIONS, useValue: options }, MetricsRegistry, MessagingMetrics],
      exports: [MetricsRegistry, MessagingMetrics],
    };
  }
}
