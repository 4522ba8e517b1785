import { Injectable, NotFoundException } from '@nestjs/common';
import type { EventMessage } from '@trainyard/contracts';
import { renderChart } from '@trainyard/charts';
import type { TrackedRun } from '@trainyard/tracking';
import { experimentName, parseTrackedRunId, toTrackedRun, toView, type TrackedRunView } from './tracked-run-view';
import { TrackingStore, type TrackedRunFilter } from './tracking.store';

/** Colours of up to ten compared runs, told apart in the chart's legend. */
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'] as const;

export interface Comparison {
  runs: TrackedRunView[];
  /** Params whose value is not the same in every run, with each run's value (null where a run has none). */
  differingParams: Record<string, (string | null)[]>;
  /** Final metrics, one row per metric, a value per run. */
  metrics: Record<string, (number | null)[]>;
  /** The compared metric over steps, per run. */
  series: { metric: string; runs: { id: string; points: { step: number; value: number }[] }[] };
}

/**
 * Every training attempt is a tracked run: what it was given (params from the job's definition),
 * what its agent reported (the trainer's code version, the metric series from its progress, final
 * metrics, artifacts, its log) and whether its model reached production.
 */
@Injectable()
export class TrackingService {
  constructor(private readonly store: TrackingStore) {}

  progressed(m: EventMessage<'job.progress'>): Promise<void> {
    return m.points?.length ? this.store.recordPoints(m.jobId, m.attempt, m.points) : Promise.resolve();
  }

  /** A dry run's "would promote" changed nothing in production. */
  promoted(m: EventMessage<'model.promoted'>): Promise<void> {
    return m.decision.applied ? this.store.markProduction(m.jobId) : Promise.resolve();
  }

  rolledBack(m: EventMessage<'model.rolled_back'>): Promise<void> {
    return this.store.markProduction(m.jobId);
  }

  async list(filter: TrackedRunFilter): Promise<{ total: number; runs: TrackedRunView[] }> {
    const { total, rows } = await this.store.list(filter);
    return { total, runs: rows.map(toView) };
  }

  /** The run with its metrics' names and, when MLflow is configured, where it stands there. */
  async show(id: string): Promise<TrackedRunView & { metricKeys: string[]; mlflow: { runId: string | null; lastError: string | null; updatedAt: Date } | null }> {
    const ref = parseTrackedRunId(id);
    const row = ref && (await this.store.find(ref.jobId, ref.attempt));
    if (!ref || !row) throw new NotFoundException(`no tracked run ${id}`);
    const mirror = await this.store.mirrorState(ref.jobId, ref.attempt);
    return {
      ...toView(row),
      metricKeys: await this.store.metricKeys(ref.jobId, ref.attempt),
      mlflow: mirror && { runId: mirror.mlflowRunId, lastError: mirror.lastError, updatedAt: mirror.updatedAt },
    };
  }

  async series(id: string, key: string): Promise<{ id: string; metric: string; points: { step: number; value: number; at: string }[] }> {
    const ref = parseTrackedRunId(id);
    if (!ref || !(await this.store.find(ref.jobId, ref.attempt))) throw new NotFoundException(`no tracked run ${id}`);
    const points = await this.store.series(ref.jobId, ref.attempt, key);
    return { id, metric: key, points: points.map((p) => ({ step: p.step, value: p.value, at: new Date(p.at).toISOString() })) };
  }

  /** The run as MLflow sees one: for the mirror and for `trainyard experiments export --mlflow`. */
  async trackedRun(id: string): Promise<TrackedRun> {
    const ref = parseTrackedRunId(id);
    const row = ref && (await this.store.find(ref.jobId, ref.attempt));
    if (!ref || !row) throw new NotFoundException(`no tracked run ${id}`);
    return toTrackedRun(row, await this.store.storedPoints(ref.jobId, ref.attempt));
  }

  async experiments() {
    return (await this.store.experiments()).map((e) => ({ experiment: experimentName(e.symbol, e.purpose, e.studyId), ...e }));
  }

  async compare(ids: string[], metric: string): Promise<Comparison> {
    const runs = await Promise.all(ids.map((id) => this.show(id)));
    const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
    const differingParams: Record<string, (string | null)[]> = {};
    for (const k of keys) {
      const values = runs.map((r) => r.params[k] ?? null);
      if (new Set(values).size > 1) differingParams[k] = values;
    }
    const metricNames = [...new Set(runs.flatMap((r) => Object.keys(r.metrics ?? {})))].sort();
    const metrics = Object.fromEntries(metricNames.map((name) => [name, runs.map((r) => r.metrics?.[name] ?? null)]));
    const series = await Promise.all(runs.map(async (r) => ({ id: r.id, points: (await this.store.series(r.jobId, r.attempt, metric)).map((p) => ({ step: p.step, value: p.value })) })));
    return { runs, differingParams, metrics, series: { metric, runs: series } };
  }

  /** The compared metric over steps for each run, one line each, as a PNG like the bot's charts. */
  async compareChart(ids: string[], metric: string): Promise<Buffer> {
    const c = await this.compare(ids, metric);
    return renderChart(
      [
        {
          title: `${metric} by step`,
          series: c.series.runs.map((s, i) => ({
            label: s.id,
            color: COLOURS[i % COLOURS.length] ?? COLOURS[0],
            points: s.points.map((p) => ({ x: p.step, y: p.value })),
            dots: s.points.length <= 30,
          })),
          formatX: (x) => String(Math.round(x)),
          formatY: (y) => (Math.abs(y) >= 100 ? y.toFixed(0) : y.toPrecision(3)),
        },
      ],
      { title: `${c.runs.length} runs compared`, panelWidth: 900, panelHeight: 420 },
    );
  }
}
