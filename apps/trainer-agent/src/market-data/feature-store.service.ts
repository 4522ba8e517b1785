import { Inject, Injectable } from '@nestjs/common';
import { sha256Hex, type JobSpec } from '@trainyard/contracts';
import { ARTIFACT_STORE, ArtifactNotFoundError, type ArtifactStore } from '@trainyard/storage';
import type { FeatureTable } from '../training/builtin-training';
import { AttemptError } from '../jobs/training-errors';
import { decodeFeatureTable, encodeFeatureTable, featureFileMeta, metaMismatch, type FeatureFileMeta } from './feature-parquet';

export type StoredFeatures =
  | { status: 'loaded'; key: string; table: FeatureTable; parquet: Buffer }
  /** None stored: a job that ensures features stores what it computes. */
  | { status: 'missing'; key: string }
  /** Stored but unreadable: replaced by a job that ensures features. */
  | { status: 'unreadable'; key: string; reason: string }
  /** Stored for other candles or another lookback: left alone, computed afresh. */
  | { status: 'mismatch'; key: string; reason: string };

/**
 * The feature store: a job's features at `features/<featureset>/<symbol>/<date>.parquet` in the
 * artifact store (a local folder or S3), loaded instead of computed when they fit the job.
 */
@Injectable()
export class FeatureStore {
  constructor(@Inject(ARTIFACT_STORE) private readonly store: ArtifactStore) {}

  static key(spec: Pick<JobSpec, 'featureset' | 'symbol' | 'date'>): string {
    return `features/${spec.featureset}/${spec.symbol}/${spec.date}.parquet`;
  }

  async load(spec: JobSpec, source: string): Promise<StoredFeatures> {
    const key = FeatureStore.key(spec);
    let body: Buffer;
    try {
      body = await this.store.get(key);
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return { status: 'missing', key };
      throw new AttemptError('storage', true, `cannot read the feature store at ${key}: ${(err as Error).message}`);
    }
    let decoded: Awaited<ReturnType<typeof decodeFeatureTable>>;
    try {
      decoded = await decodeFeatureTable(body);
    } catch (err) {
      return { status: 'unreadable', key, reason: (err as Error).message };
    }
    const mismatch = metaMismatch(decoded.meta, featureFileMeta(spec, source));
    if (mismatch) return { status: 'mismatch', key, reason: mismatch };
    return { status: 'loaded', key, table: decoded.table, parquet: body };
  }

  /** The Parquet file for a job's table, with what it was computed for in its footer. */
  encode(table: FeatureTable, meta: FeatureFileMeta): Promise<Buffer> {
    return encodeFeatureTable(table, meta);
  }

  /** Stores the file and reads it back: it is there for later jobs only once its checksum is. */
  async save(key: string, parquet: Buffer): Promise<string> {
    const expected = sha256Hex(parquet);
    try {
      await this.store.put(key, parquet, 'application/vnd.apache.parquet');
      const stored = await this.store.sha256(key);
      if (stored !== expected) throw new Error(`checksum mismatch after storing: expected ${expected}, stored ${stored}`);
    } catch (err) {
      throw new AttemptError('storage', true, `features not stored at ${key}: ${(err as Error).message}`);
    }
    return expected;
  }
}
