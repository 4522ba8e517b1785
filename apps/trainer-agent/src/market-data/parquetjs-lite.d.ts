/** The package ships no typings; this declares the part of its API the agent uses. */
declare module 'parquetjs-lite' {
  import type { Writable } from 'node:stream';

  type FieldType = 'BOOLEAN' | 'INT32' | 'INT64' | 'FLOAT' | 'DOUBLE' | 'UTF8' | 'TIMESTAMP_MILLIS' | 'TIMESTAMP_MICROS' | 'BYTE_ARRAY';
  interface FieldDefinition {
    type: FieldType;
    optional?: boolean;
    compression?: 'UNCOMPRESSED' | 'GZIP' | 'SNAPPY' | 'BROTLI';
  }

  export class ParquetSchema {
    constructor(fields: Record<string, FieldDefinition>);
    fieldList: Array<{ name: string; primitiveType: string; originalType?: string }>;
  }

  export class ParquetWriter {
    static openStream(schema: ParquetSchema, stream: Writable, opts?: { rowGroupSize?: number }): Promise<ParquetWriter>;
    appendRow(row: Record<string, unknown>): Promise<void>;
    setMetadata(key: string, value: string): void;
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
