/** The package ships no typings; this declares the part of its API the agent uses. */
declare module 'parquetjs-lite' {
  import type { Writable } from 'node:stream';

  type FieldType = 'BOOLEAN' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'UTF8' | 'TIMESTAMP_MILLIS' | 'TIMESTAMP_MICROS' | 'BYTE_ARRAY';
  interface FieldDefinition {
    type: FieldType;
    optional?: boolean;
    compression?: 'UNCOMPRESSED' | 'GZIP' | 'SNAPPY' | 'BROTLI';
  }

  export interface ParquetField {
    name: string;
    primitiveType: string;
    originalType?: string;
    repetitionType: 'REQUIRED' | 'OPTIONAL' | 'REPEATED';
    isNested?: boolean;
    dLevelMax: number;
  }

  export class ParquetSchema {
    constructor(fields: Record<string, FieldDefinition>);
    fieldList: ParquetField[];
  }

  /** A column's shredded values as appendRow collects them (lib/shred.js). */
  export interface ShreddedColumn {
    dlevels: number[];
    rlevels: number[];
    values: unknown[];
    distinct_values: Set<unknown>;
    count: number;
  }

  /** The rows appendRow has shredded and not yet written, by column path. */
  export interface ShreddedRows {
    rowCount: number;
    pageRowCount: number;
    columnData: Record<string, ShreddedColumn>;
    pages: Record<string, unknown[]>;
  }

  export class ParquetWriter {
    static openStream(schema: ParquetSchema, stream: Writable, opts?: { rowGroupSize?: number }): Promise<ParquetWriter>;
    appendRow(row: Record<string, unknown>): Promise<void>;
    setMetadata(key: string, value: string): void;
    /** Internal: what appendRow shreds into (empty between row groups); written as a row group when full and on close. */
    rowBuffer: Partial<ShreddedRows>;
    close(): Promise<void>;
  }

  export interface ParquetCursor {
    next(): Promise<Record<string, unknown> | null>;
  }

  export class ParquetReader {
    static openBuffer(buffer: Buffer): Promise<ParquetReader>;
    getSchema(): ParquetSchema;
    getMetadata(): Record<string, string>;
    getRowCount(): number | bigint | { toNumber(): number };
    getCursor(columns?: string[]): ParquetCursor;
    close(): Promise<void>;
  }
}

declare module 'parquetjs-lite/lib/types' {
  /** A value as its column's type stores it (what shredding applies to every value). */
  export function toPrimitive(type: string, value: unknown): unknown;
}
