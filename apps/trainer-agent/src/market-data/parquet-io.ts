import { Writable } from 'node:stream';
import { ParquetReader, ParquetSchema, ParquetWriter } from 'parquetjs-lite';

export type ParquetRow = Record<string, unknown>;

/** Rows to a Parquet file in memory, with key/value metadata in its footer. */
export async function writeParquet(fields: ConstructorParameters<typeof ParquetSchema>[0], rows: Iterable<ParquetRow>, metadata: Record<string, string> = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const writer = await ParquetWriter.openStream(new ParquetSchema(fields), sink, { rowGroupSize: 8192 });
  for (const [key, value] of Object.entries(metadata)) writer.setMetadata(key, value);
  for (const row of rows) await writer.appendRow(row);
  await writer.close();
  return Buffer.concat(chunks);
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
