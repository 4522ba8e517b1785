/** A CSV of symbols, read by whoever holds the file: the `symbol` column when a header names it, else the first column. */
export function symbolsFromCsv(text: string): string[] {
  const rows = text
    .split(/\r?\n/)
    .map((l) => l.split(',').map((c) => c.trim().replace(/^"|"$/g, '')))
    .filter((r) => r.some(Boolean));
  const [header] = rows;
  if (header === undefined) return [];
  const col = header.findIndex((c) => c.toLowerCase() === 'symbol');
  // every row kept has a non-empty cell, so r[0] is there
  return col >= 0 ? rows.slice(1).map((r) => r[col] ?? '') : rows.map((r) => r[0] ?? '');
}
