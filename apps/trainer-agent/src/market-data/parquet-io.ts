import { Writable } from 'node:stream';
import { ParquetReader, ParquetSchema, ParquetWriter, type ParquetField, type ShreddedColumn, type ShreddedRows } from 'parquetjs-lite';
import { toPrimitive } from 'parquetjs-lite/lib/types';

export type ParquetRow = Record<string, unknown>;

const ROW_GROUP_SIZE = 8192;

/** Rows to a Parquet file in memory, with key/value metadata in its footer. */
export async function writeParquet(fields: ConstructorParameters<typeof ParquetSchema>[0], rows: Iterable<ParquetRow>, metadata: Record<string, string> = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const schema = new ParquetSchema(fields);
  const writer = await ParquetWriter.openStream(schema, sink, { rowGroupSize: ROW_GROUP_SIZE });
  for (const [key, value] of Object.entries(metadata)) writer.setMetadata(key, value);
  if (schema.fieldList.every((f) => !f.isNested && f.repetitionType !== 'REPEATED')) await appendFlatRows(writer, schema.fieldList, rows);
  else for (const row of rows) await writer.appendRow(row);
  await writer.close();
  return Buffer.concat(chunks);
}

/**
 * Rows of top-level, unrepeated columns, shredded a column at a time into the writer's row buffer as
 * appendRow would, without its per-row shredding (most of the cost of a small file). The last row of
 * each row group goes through appendRow, so that the library still cuts and encodes pages and groups.
 */
async function appendFlatRows(writer: ParquetWriter, fields: ParquetField[], rows: Iterable<ParquetRow>): Promise<void> {
  let buffer = emptyRows(fields);
  for (const row of rows) {
    if (buffer.rowCount === ROW_GROUP_SIZE - 1) {
      writer.rowBuffer = buffer;
      await writer.appendRow(row);
      buffer = emptyRows(fields);
      continue;
    }
    for (const field of fields) shredCell(field, row[field.name], buffer.columnData[field.name]!);
    buffer.rowCount++;
    buffer.pageRowCount++;
  }
  writer.rowBuffer = buffer;
}

/** No rows yet; a top-level column's path is its name. */
function emptyRows(fields: ParquetField[]): ShreddedRows {
  const rows: ShreddedRows = { rowCount: 0, pageRowCount: 0, columnData: {}, pages: {} };
  for (const field of fields) {
    rows.columnData[field.name] = { dlevels: [], rlevels: [], values: [], distinct_values: new Set(), count: 0 };
    rows.pages[field.name] = [];
  }
  return rows;
}

/** shredRecordInternal (lib/shred.js) for a top-level column: an array holds the cell's values, null and undefined none. */
function shredCell(field: ParquetField, cell: unknown, column: ShreddedColumn): void {
  const isArray = cell !== undefined && cell !== null && cell.constructor === Array;
  if (cell === undefined || cell === null || (isArray && (cell as unknown[]).length === 0)) {
    if (field.repetitionType === 'REQUIRED') throw `missing required field: ${field.name}`;
    column.rlevels.push(0);
    column.dlevels.push(0);
    column.count++;
    return;
  }
  if (isArray && (cell as unknown[]).length > 1) throw `too many values for field: ${field.name}`;
  const value = isArray ? (cell as unknown[])[0] : cell;
  column.distinct_values.add(value);
  column.values.push(toPrimitive(field.originalType || field.primitiveType, value));
  column.rlevels.push(0);
  column.dlevels.push(field.dLevelMax);
  column.count++;
}

export interface ParquetContents {
  /** Column names as the file's schema lists them. */
  columns: string[];
  metadata: Record<string, string>;
  rows: ParquetRow[];
}

/** Every row of a Parquet file in memory (INT64 columns come back as bigint). The library throws strings; this throws Errors. */
export async function readParquet(body: Buffer): Promise<ParquetContents> {
  try {
    return await readAll(body);
  } catch (err) {
    throw new Error(`not a readable Parquet file: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readAll(body: Buffer): Promise<ParquetContents> {
  const reader = await ParquetReader.openBuffer(body);
  try {
    const columns = reader.getSchema().fieldList.map((f) => f.name);
    const cursor = reader.getCursor();
    const rows: ParquetRow[] = [];
    for (let row = await cursor.next(); row; row = await cursor.next()) rows.push(row);
    return { columns, metadata: reader.getMetadata(), rows };
  } finally {
    await reader.close();
  }
}

/** A cell as a number: bigint (INT64), Date (timestamps), numeric or ISO text; NaN when it is none of those. */
export function cellNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Date.parse(value);
  return Number.NaN;
}
