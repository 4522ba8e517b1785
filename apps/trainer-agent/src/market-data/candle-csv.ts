import type { Candle } from '../training/candles';

/**
 * Candles from CSV with a header naming open_time (ms epoch or ISO), open, high, low, close, volume,
 * in any column order. Rows are kept as they are: gaps, duplicates and disorder are for validation
 * to report, not for the reader to hide.
 */
export function parseCandleCsv(text: string): Candle[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const [headerLine] = lines;
  if (headerLine === undefined) return [];
  const header = headerLine.split(',').map((h) => h.trim().toLowerCase());
  const col = (name: string, ...aliases: string[]) => {
    const i = [name, ...aliases].map((n) => header.indexOf(n)).find((x) => x >= 0);
    if (i === undefined) throw new Error(`the candle CSV has no "${name}" column (header: ${headerLine})`);
    return i;
  };
  const at = { openTime: col('open_time', 'timestamp', 'time'), open: col('open'), high: col('high'), low: col('low'), close: col('close'), volume: col('volume') };
  return lines.slice(1).map((line, n) => {
    const cells = line.split(',').map((c) => c.trim());
    const rawTime = cells[at.openTime] ?? '';
    const openTime = /^\d+$/.test(rawTime) ? Number(rawTime) : Date.parse(rawTime);
    const candle = { openTime, open: Number(cells[at.open]), high: Number(cells[at.high]), low: Number(cells[at.low]), close: Number(cells[at.close]), volume: Number(cells[at.volume]) };
    if (Object.values(candle).some((v) => !Number.isFinite(v))) throw new Error(`the candle CSV has an unreadable row ${n + 2}: ${line}`);
    return candle;
  });
}
