import type { MetricPoint } from '@trainyard/contracts';
import type { ProgressReport } from './training-run';

/** A job.progress carries at most this many points; more wait for the next one. */
export const POINTS_PER_MESSAGE = 500;

/**
 * Every metric report of an attempt until it is on the bus: job.progress is sent at most once per
 * interval, and each carries the points reported since the last, so the tracked series is whole. A
 * point whose message could not be sent is put back for the next one; past `max` the oldest go.
 */
export class MetricBuffer {
  private points: MetricPoint[] = [];
  private reports = 0;
  lastPercent = 0;

  constructor(
    private readonly now: () => Date,
    private readonly max = 10_000,
  ) {}

  add(p: ProgressReport): void {
    this.lastPercent = p.percent;
    const values: Record<string, number> = { ...(p.metrics ?? {}) };
    if (p.loss !== undefined) values.loss = p.loss;
    if (p.validationMetric !== undefined) values.validationMetric = p.validationMetric;
    const finite = Object.fromEntries(
      Object.entries(values)
        .filter(([, v]) => Number.isFinite(v))
        .slice(0, 50),
    );
    const step = p.step ?? p.epoch ?? this.reports;
    this.reports++;
    if (Object.keys(finite).length === 0) return;
    this.points.push({ step, at: this.now().toISOString(), values: finite });
    if (this.points.length > this.max) this.points.splice(0, this.points.length - this.max);
  }

  take(): MetricPoint[] {
    return this.points.splice(0, POINTS_PER_MESSAGE);
  }

  putBack(points: MetricPoint[]): void {
    this.points.unshift(...points);
    if (this.points.length > this.max) this.points.splice(0, this.points.length - this.max);
  }

  get size(): number {
    return this.points.length;
  }
}
