/** A column every row has a value in: INT64 (whole numbers, exact up to 2^53) or DOUBLE. */
export interface FlatColumn {
  name: string;
  type: 'INT64' | 'DOUBLE';
  values: readonly number[];
}

// Parquet's Thrift enums and the compact protocol's field types (parquet.thrift, TCompactProtocol).
const TYPE = { INT64: 2, DOUBLE: 5 } as const;
const REQUIRED = 0;
const PLAIN = 0;
const RLE = 3;
const DATA_PAGE = 0;
const UNCOMPRESSED = 0;
const T_I32 = 5;
const T_I64 = 6;
const T_BINARY = 8;
const T_LIST = 9;
const T_STRUCT = 12;

/**
 * A Parquet file of flat, required columns: one row group, one PLAIN data page per column,
 * uncompressed, as a reader of any Parquet version takes. It is what the agent writes for every job
 * (the trainer's candles), so it is written directly: the general writer (parquetjs-lite) spent most of
 * a millisecond a job serializing its Thrift headers a varint at a time, each in a buffer of its own.
 */
export function writeFlatParquet(columns: readonly FlatColumn[]): Buffer {
  const rows = columns[0]?.values.length ?? 0;
  if (columns.some((c) => c.values.length !== rows)) throw new Error('every column of a flat Parquet file has one value a row');
  for (const c of columns) {
    const bad = c.type === 'INT64' ? c.values.find((v) => !Number.isSafeInteger(v)) : undefined;
    if (bad !== undefined) throw new Error(`column ${c.name} is INT64 and cannot hold ${bad}`);
  }
  const parts: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const chunks: { column: FlatColumn; offset: number; bytes: number }[] = [];
  for (const column of columns) {
    const data = Buffer.allocUnsafe(rows * 8);
    column.values.forEach((v, i) => (column.type === 'INT64' ? data.writeBigInt64LE(BigInt(v), i * 8) : data.writeDoubleLE(v, i * 8)));
    const header = new CompactWriter();
    header.i32(1, DATA_PAGE).i32(2, data.length).i32(3, data.length);
    header.struct(5, (page) => page.i32(1, rows).i32(2, PLAIN).i32(3, RLE).i32(4, RLE));
    const headerBytes = header.end();
    parts.push(headerBytes, data);
    chunks.push({ column, offset, bytes: headerBytes.length + data.length });
    offset += headerBytes.length + data.length;
  }
  const footer = new CompactWriter();
  footer.i32(1, 1);
  footer.structs(2, [{ name: 'root', children: columns.length }, ...columns], (w, e) => {
    if ('children' in e) w.binary(4, e.name).i32(5, e.children);
    else w.i32(1, TYPE[e.type]).i32(3, REQUIRED).binary(4, e.name);
  });
  footer.i64(3, rows);
  footer.structs(4, [chunks], (group, cs) => {
    group.structs(1, cs, (chunk, c) =>
      chunk
        .i64(2, c.offset)
        .struct(3, (meta) => meta.i32(1, TYPE[c.column.type]).i32s(2, [PLAIN, RLE]).binaries(3, [c.column.name]).i32(4, UNCOMPRESSED).i64(5, rows).i64(6, c.bytes).i64(7, c.bytes).i64(9, c.offset)),
    );
    group
      .i64(
        2,
        cs.reduce((n, c) => n + c.bytes, 0),
      )
      .i64(3, rows);
  });
  // None, but listed: parquetjs-lite's reader iterates the list.
  footer.structs(5, [], () => undefined);
  footer.binary(6, 'trainyard');
  const footerBytes = footer.end();
  const tail = Buffer.allocUnsafe(8);
  tail.writeUInt32LE(footerBytes.length, 0);
  tail.write('PAR1', 4, 'latin1');
  parts.push(footerBytes, tail);
  return Buffer.concat(parts);
}

/** Thrift's compact protocol, for the structs above: fields in increasing id order, non-negative integers. */
class CompactWriter {
  private readonly bytes: number[] = [];
  private lastId = 0;

  i32(id: number, v: number): this {
    return this.field(T_I32, id).varint(v * 2);
  }
  i64(id: number, v: number): this {
    return this.field(T_I64, id).varint(v * 2);
  }
  binary(id: number, s: string): this {
    return this.field(T_BINARY, id).text(s);
  }
  i32s(id: number, vs: number[]): this {
    this.field(T_LIST, id).listHeader(T_I32, vs.length);
    for (const v of vs) this.varint(v * 2);
    return this;
  }
  binaries(id: number, ss: string[]): this {
    this.field(T_LIST, id).listHeader(T_BINARY, ss.length);
    for (const s of ss) this.text(s);
    return this;
  }
  struct(id: number, write: (w: this) => void): this {
    this.field(T_STRUCT, id);
    return this.nested(() => write(this));
  }
  structs<T>(id: number, items: readonly T[], write: (w: this, item: T) => void): this {
    this.field(T_LIST, id).listHeader(T_STRUCT, items.length);
    for (const item of items) this.nested(() => write(this, item));
    return this;
  }
  /** The top struct's stop byte, and the bytes. */
  end(): Buffer {
    this.bytes.push(0);
    return Buffer.from(this.bytes);
  }

  private nested(write: () => void): this {
    const outer = this.lastId;
    this.lastId = 0;
    write();
    this.bytes.push(0);
    this.lastId = outer;
    return this;
  }
  private field(type: number, id: number): this {
    const delta = id - this.lastId;
    if (delta <= 0 || delta > 15) throw new Error(`Thrift field ${id} after ${this.lastId}: write fields in increasing order`);
    this.bytes.push((delta << 4) | type);
    this.lastId = id;
    return this;
  }
  private listHeader(type: number, size: number): this {
    if (size < 15) {
      this.bytes.push((size << 4) | type);
      return this;
    }
    this.bytes.push(0xf0 | type);
    return this.varint(size);
  }
  private text(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.varint(b.length);
    for (const byte of b) this.bytes.push(byte);
    return this;
  }
  /** Unsigned LEB128; zigzag is left to the caller (2n for the non-negative n written here). */
  private varint(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Thrift varint out of range: ${n}`);
    while (n >= 0x80) {
      this.bytes.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.bytes.push(n);
    return this;
  }
}
