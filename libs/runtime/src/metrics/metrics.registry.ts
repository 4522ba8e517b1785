import { Inject, Injectable, Logger } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsOptions {
  /** The service, as the `service` label of every series. */
  service: string;
  /** Process metrics (CPU, memory, event loop, GC); on unless false. */
  defaultMetrics?: boolean;
}

export const METRICS_OPTIONS = Symbol('METRICS_OPTIONS');

export interface SampledValue<L extends string> {
  labels: Partial<Record<L, string | number>>;
  value: number;
}

export interface SampledGaugeConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Label sets reported as 0 when a sample has none of them, so a series never vanishes (e.g. every job state). */
  zeros?: Partial<Record<L, string>>[];
  /** Reads the current values (from the database, say) when Prometheus scrapes. */
  sample: () => Promise<SampledValue<L>[]>;
}

/**
 * One prom-client Registry per app instance, never the global one, so several apps in one process
 * (tests) keep their series apart. Apps add their series through it.
 */
@Injectable()
export class MetricsRegistry {
  readonly registry = new Registry();
  private readonly log = new Logger('Metrics');

  constructor(@Inject(METRICS_OPTIONS) readonly options: MetricsOptions) {
    this.registry.setDefaultLabels({ service: options.service });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A gauge whose values are read when Prometheus scrapes. A failing read keeps the values of the
   * last good one and is logged, so one unreachable table does not take the whole endpoint down.
   */
  sampledGauge<L extends string>(config: SampledGaugeConfig<L>): Gauge<L> {
    const log = this.log;
    return new Gauge<L>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [this.registry],
      async collect() {
        const samples = await readSamples(config, log);
        if (!samples) return;
        this.reset();
        for (const z of config.zeros ?? []) this.set(z as never, 0);
        for (const s of samples) this.set(s.labels as never, s.value);
      },
    });
  }

  /**
   * A counter whose totals are read when Prometheus scrapes, for counts a table keeps (messages
   * sent, say): exact across restarts. Same failure handling as sampledGauge.
   */
  sampledCounter<L extends string>(config: SampledGaugeConfig<L>): Counter<L> {
    const log = this.log;
    return new Counter<L>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [this.registry],
      async collect() {
        const samples = await readSamples(config, log);
        if (!samples) return;
        this.reset();
        for (const z of config.zeros ?? []) this.inc(z as never, 0);
        for (const s of samples) this.inc(s.labels as never, Math.max(0, s.value));
      },
    });
  }

  /** The exposition text for a scrape. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The samples of one scrape, or null (logged) when the read failed, so the last good values stay. */
async function readSamples<L extends string>(config: SampledGaugeConfig<L>, log: { warn(message: unknown): void }): Promise<SampledValue<L>[] | null> {
  try {
    return await config.sample();
  } catch (err) {
    log.warn({ event: 'metrics_sample_failed', metric: config.name, msg: `${config.name} not sampled: ${(err as Error).message}` });
    return null;
  }
}
