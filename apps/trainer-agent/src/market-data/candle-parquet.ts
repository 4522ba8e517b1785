import type { Candle } from '../training/candles';
import { writeFlatParquet } from './flat-parquet';
import { cellNumber, readParquet } from './parquet-io';

/**
 * Candles from a Parquet file with the CSV's columns: open_time (ms epoch as INT64 or DOUBLE, a
 * timestamp, or ISO text; `timestamp` and `time` are accepted too), open, high, low, close, volume.
 * Like the CSV reader it keeps rows as they are, for validation to judge.
 */
export async function parseCandleParquet(body: Buffer): Promise<Candle[]> {
  const { columns, rows } = await readParquet(body);
  const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const col = (name: string, ...aliases: string[]) => {
    const found = [name, ...aliases].map((n) => byLower.get(n)).find((c) => c !== undefined);
    if (!found) throw new Error(`the candle Parquet file has no "${name}" column (columns: ${columns.join(', ')})`);
    return found;
  };
  const at = { openTime: col('open_time', 'timestamp', 'time'), open: col('open'), high: col('high'), low: col('low'), close: col('close'), volume: col('volume') };
  return rows.map((row, n) => {
    const candle: Candle = {
      openTime: cellNumber(row[at.openTime]),
      open: cellNumber(row[at.open]),
      high: cellNumber(row[at.high]),
      low: cellNumber(row[at.low]),
      close: cellNumber(row[at.close]),
      volume: cellNumber(row[at.volume]),
    };
    if (Object.values(candle).some((v) => !Number.isFinite(v))) {
      throw new Error(`the candle Parquet file has an unreadable row ${n + 1}: ${JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
    return candle;
  });
}

/** Candles as a Parquet file the data folder takes: open_time INT64 (ms), prices and volume DOUBLE. */
export function encodeCandleParquet(candles: readonly Candle[]): Buffer {
  const double = (name: string, value: (c: Candle) => number) => ({ name, type: 'DOUBLE' as const, values: candles.map(value) });
  return writeFlatParquet([
    { name: 'open_time', type: 'INT64', values: candles.map((c) => c.openTime) },
    double('open', (c) => c.open),
    double('high', (c) => c.high),
    double('low', (c) => c.low),
    double('close', (c) => c.close),
    double('volume', (c) => c.volume),
  ]);
}
