import { z } from 'zod';
import type { StudyView, VersionView } from '@trainyard/contracts';
import { renderChart, type Panel } from '@trainyard/charts';

const CANDIDATE = '#1f77b4';
const PRODUCTION = '#ff7f0e';
const MARK = '#2ca02c';

/** `equity.json` beside a version's metrics.json: the backtest's equity after costs over the evaluation window. */
export const EquityCurve = z
  .array(z.object({ t: z.number(), equity: z.number().finite() }))
  .min(2)
  .max(100_000);
export type EquityCurve = z.infer<typeof EquityCurve>;

export interface EquityComparison {
  symbol: string;
  candidate: { version: number; curve: EquityCurve };
  /** The version in production when the candidate was decided; null when there was none or it left no curve. */
  production: { version: number; curve: EquityCurve } | null;
}

const day = (t: number) => new Date(t).toISOString().slice(5, 10);
const multiple = (y: number) => (Math.abs(y) >= 1000 ? `${(y / 1000).toFixed(1)}k` : Math.abs(y) >= 10 ? y.toFixed(0) : y.toFixed(2));

/** Candidate against production, one panel per symbol, two columns when there are several. */
export function renderEquityComparison(items: EquityComparison[]): Promise<Buffer> {
  const panels: Panel[] = items.map((c) => ({
    title: c.production ? c.symbol : `${c.symbol} (no production version before)`,
    series: [
      ...(c.production ? [{ label: `production v${c.production.version}`, color: PRODUCTION, points: c.production.curve.map((p) => ({ x: p.t, y: p.equity })) }] : []),
      { label: `candidate v${c.candidate.version}`, color: CANDIDATE, points: c.candidate.curve.map((p) => ({ x: p.t, y: p.equity })) },
    ],
    formatX: day,
    formatY: multiple,
  }));
  return renderChart(panels, { title: 'Equity after costs: candidate vs production', columns: items.length > 1 ? 2 : 1, panelWidth: items.length > 1 ? 520 : 800, panelHeight: 300 });
}

/** Sharpe and hit rate of each version, the production version marked. */
export function renderMetricsHistory(symbol: string, versions: VersionView[]): Promise<Buffer> {
  const ordered = [...versions].sort((a, b) => a.version - b.version);
  const production = ordered.find((v) => v.stage === 'production');
  const panel = (title: string, color: string, value: (v: VersionView) => number, formatY: (y: number) => string): Panel => ({
    title,
    series: [{ label: title, color, points: ordered.map((v) => ({ x: v.version, y: value(v) })), dots: true }],
    markers: production ? [{ x: production.version, y: value(production), label: 'production', color: MARK }] : [],
    formatX: (x) => `v${x}`,
    formatY,
    xTicksAtPoints: true,
  });
  return renderChart(
    [
      panel(
        'Sharpe',
        CANDIDATE,
        (v) => v.metrics.sharpe,
        (y) => y.toFixed(2),
      ),
      panel(
        'Directional hit rate',
        PRODUCTION,
        (v) => v.metrics.directionalHitRate * 100,
        (y) => `${y.toFixed(1)}%`,
      ),
    ],
    { title: `${symbol}: metrics by version`, panelWidth: 800, panelHeight: 260 },
  );
}

/** A study's optimisation history: each complete trial's value and the best so far. */
export function renderStudyHistory(study: StudyView): Promise<Buffer> {
  return renderChart(
    [
      {
        title: `${study.objective} by trial (${study.direction})`,
        series: [
          { label: 'trial', color: CANDIDATE, points: study.history.map((h) => ({ x: h.trial, y: h.value })), dots: study.history.length <= 60 },
          { label: 'best so far', color: MARK, points: study.history.map((h) => ({ x: h.trial, y: h.best })) },
        ],
        formatX: (x) => `#${Math.round(x)}`,
        formatY: (y) => y.toPrecision(3),
      },
    ],
    { title: `${study.symbol}: study ${study.id}`, panelWidth: 800, panelHeight: 300 },
  );
}
