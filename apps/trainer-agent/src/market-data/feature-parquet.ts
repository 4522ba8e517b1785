import type { JobSpec } from '@trainyard/contracts';
import type { FeatureTable } from '../training/builtin-training';
import { REGIMES, type Regime, type Timeframe } from '../training/candles';
import { FEATURE_NAMES, rowCount } from '../training/features';
import { cellNumber, readParquet, writeParquet, type ParquetRow } from './parquet-io';

/** What a feature file was computed for, kept in its footer; a job uses the file only when all of it matches. */
export interface FeatureFileMeta {
  featureset: string;
  symbol: string;
  date: string;
  timeframe: Timeframe;
  /** The lookback the job asked for (the file may hold fewer rows: warm-up and short histories). */
  lookbackCandles: number;
  /** Where the candles came from: `synthetic:seed=<n>`, `files`, `exchange:<host>`. */
  source: string;
}

const META_PREFIX = 'trainyard.';

export function featureFileMeta(spec: JobSpec, source: string): FeatureFileMeta {
  return { featureset: spec.featureset, symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, lookbackCandles: spec.lookbackCandles, source };
}

/** The first field where a file's metadata and a job's differ, as "name: file value, job value"; undefined when none. */
export function metaMismatch(file: FeatureFileMeta, job: FeatureFileMeta): string | undefined {
  for (const key of Object.keys(job) as (keyof FeatureFileMeta)[]) {
    if (String(file[key]) !== String(job[key])) return `${key} ${JSON.stringify(file[key])}, the job's is ${JSON.stringify(job[key])}`;
  }
  return undefined;
}

/**
 * features.parquet: one row per feature row, the candle's open time and index, the featureset's
 * columns by name, the label, the next bar's log return and regime. DOUBLE columns keep every bit,
 * so a model trained on a stored table is the model trained on freshly computed features.
 */
export function encodeFeatureTable(table: FeatureTable, meta: FeatureFileMeta): Promise<Buffer> {
  const fields = {
    open_time: { type: 'INT64' as const },
    candle_index: { type: 'INT32' as const },
    ...Object.fromEntries(FEATURE_NAMES.map((name) => [name, { type: 'DOUBLE' as const }])),
    label: { type: 'INT32' as const },
    next_return: { type: 'DOUBLE' as const },
    next_regime: { type: 'UTF8' as const },
  };
  const n = rowCount(table);
  function* rows(): Iterable<ParquetRow> {
    for (let k = 0; k < n; k++) {
      const row: ParquetRow = { open_time: table.openTime[k], candle_index: table.candleIndex[k] };
      FEATURE_NAMES.forEach((name, j) => (row[name] = table.values[k * table.width + j]));
      row.label = table.labels[k];
      row.next_return = table.nextReturns[k];
      row.next_regime = table.nextRegime[k];
      yield row;
    }
  }
  const metadata: Record<string, string> = { featureNames: JSON.stringify(FEATURE_NAMES), candles: String(table.candles) };
  for (const [key, value] of Object.entries(meta)) metadata[key] = String(value);
  return writeParquet(fields, rows(), Object.fromEntries(Object.entries(metadata).map(([k, v]) => [META_PREFIX + k, v])));
}

export async function decodeFeatureTable(body: Buffer): Promise<{ table: FeatureTable; meta: FeatureFileMeta }> {
  const { rows, metadata, columns } = await readParquet(body);
  const md = (key: string) => {
    const value = metadata[META_PREFIX + key];
    if (value === undefined) throw new Error(`the feature file has no ${META_PREFIX}${key} metadata`);
    return value;
  };
  const names = JSON.parse(md('featureNames')) as string[];
  if (JSON.stringify(names) !== JSON.stringify(FEATURE_NAMES)) throw new Error(`the feature file's columns ${names.join(',')} are not ${FEATURE_NAMES.join(',')}`);
  const missing = ['open_time', 'candle_index', ...FEATURE_NAMES, 'label', 'next_return', 'next_regime'].filter((c) => !columns.includes(c));
  if (missing.length) throw new Error(`the feature file lacks column(s) ${missing.join(', ')}`);
  const meta: FeatureFileMeta = {
    featureset: md('featureset'),
    symbol: md('symbol'),
    date: md('date'),
    timeframe: md('timeframe') as Timeframe,
    lookbackCandles: Number(md('lookbackCandles')),
    source: md('source'),
  };
  const width = FEATURE_NAMES.length;
  const table: FeatureTable = {
    width,
    values: new Float64Array(rows.length * width),
    labels: [],
    nextReturns: [],
    candleIndex: [],
    openTime: [],
    nextRegime: [],
    featureset: meta.featureset,
    timeframe: meta.timeframe,
    candles: Number(md('candles')),
  };
  rows.forEach((row, k) => {
    FEATURE_NAMES.forEach((name, j) => (table.values[k * width + j] = cellNumber(row[name])));
    table.labels.push(cellNumber(row.label));
    table.nextReturns.push(cellNumber(row.next_return));
    table.candleIndex.push(cellNumber(row.candle_index));
    table.openTime.push(cellNumber(row.open_time));
    const regime = row.next_regime as Regime;
    if (!REGIMES.includes(regime)) throw new Error(`row ${k} of the feature file has regime ${JSON.stringify(row.next_regime)}`);
    table.nextRegime.push(regime);
  });
  if (!table.values.every(Number.isFinite) || !table.nextReturns.every(Number.isFinite) || !table.openTime.every(Number.isFinite)) {
    throw new Error('the feature file has missing or non-finite values');
  }
  return { table, meta };
}
