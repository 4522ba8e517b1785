import { Writable } from 'node:stream';
import { ParquetSchema, ParquetWriter } from 'parquetjs-lite';
import { readParquet, writeParquet, type ParquetRow } from './parquet-io';

type Fields = ConstructorParameters<typeof ParquetSchema>[0];

/** The file the library writes a row at a time, as writeParquet did before it shredded flat columns itself. */
async function writeRowByRow(fields: Fields, rows: ParquetRow[], metadata: Record<string, string>): Promise<Buffer> {
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

describe('writeParquet', () => {
  it('writes flat columns as the row-at-a-time writer does: the same bytes, rows and metadata', async () => {
    const double = { type: 'DOUBLE' as const };
    const fields: Fields = { open_time: { type: 'INT64' }, open: double, close: double, n: { type: 'INT32' }, regime: { type: 'UTF8' }, note: { type: 'UTF8', optional: true } };
    const metadata = { 'trainyard.source': 'synthetic:seed=1', candles: '200' };
    // Two row groups and a bit (8192 rows each), so the groups are cut where the library cuts them.
    const rows = Array.from({ length: 2 * 8192 + 3 }, (_, k) => ({
      open_time: 1_700_000_000_000 + k * 3_600_000,
      open: 100 + Math.sin(k) * 3.25,
      close: k % 7 === 0 ? 1e-300 * k : -Math.cos(k) / 3,
      n: k - 5000,
      regime: ['bull', 'bear', 'chop'][k % 3],
      note: k % 5 === 0 ? undefined : k % 5 === 1 ? null : `row ${k}`,
    }));
    const fast = await writeParquet(fields, rows, metadata);
    expect(fast.equals(await writeRowByRow(fields, rows, metadata))).toBe(true);
    const read = await readParquet(fast);
    expect(read.metadata).toEqual(metadata);
    expect(read.rows).toHaveLength(rows.length);
    expect(read.rows[1]).toEqual({ ...rows[1], open_time: BigInt(rows[1]!.open_time), note: undefined });
    expect(read.rows[2]).toEqual({ ...rows[2], open_time: BigInt(rows[2]!.open_time) });
    expect(read.rows.map((r) => r.open)).toEqual(rows.map((r) => r.open));
  });

  it('writes nothing but the footer for no rows, and refuses a missing required cell as the library does', async () => {
    const fields: Fields = { x: { type: 'DOUBLE' } };
    expect((await writeParquet(fields, [], { a: 'b' })).equals(await writeRowByRow(fields, [], { a: 'b' }))).toBe(true);
    await expect(writeParquet(fields, [{ x: 1 }, {}])).rejects.toBe('missing required field: x');
  });
});
