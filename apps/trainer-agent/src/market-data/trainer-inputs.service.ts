import { Injectable } from '@nestjs/common';
import { join } from 'node:path';
import type { JobSpec } from '@trainyard/contracts';
import { generateSyntheticCandles } from '../training/candles';
import { encodeCandleParquet } from './candle-parquet';
import { FeatureStore } from './feature-store.service';
import { MarketDataService } from './market-data.service';

/** The job's data as files a command trainer reads, named in its environment. */
export interface TrainerInputs {
  /** What to write where before the trainer starts. */
  files: Array<{ path: string; data: Buffer }>;
  env: { TRAINYARD_CANDLES: string; TRAINYARD_FEATURES?: string };
  /** One line for the attempt log. */
  summary: string;
}

/**
 * Prepares a command trainer's data as the built-in trainer would see it: the job's candles (from the
 * agent's data source, or the same seeded synthetic candles the built-in trainer makes) and, when the
 * feature store has features for the job, those, as Parquet files to write in `dir`.
 */
@Injectable()
export class TrainerInputsService {
  constructor(
    private readonly marketData: MarketDataService,
    private readonly featureStore: FeatureStore,
  ) {}

  async prepare(spec: JobSpec, dir: string): Promise<TrainerInputs> {
    const source = this.marketData.sourceFor(spec);
    const candles =
      (await this.marketData.candlesFor(spec)) ??
      generateSyntheticCandles({ symbol: spec.symbol, date: spec.date, timeframe: spec.timeframe, count: spec.lookbackCandles, seed: spec.model.seed }).candles;
    const candlesPath = join(dir, 'candles.parquet');
    const files = [{ path: candlesPath, data: encodeCandleParquet(candles) }];
    const stored = await this.featureStore.load(spec, source);
    if (stored.status !== 'loaded') {
      const why = stored.status === 'missing' ? 'none stored' : `${stored.key} not used: ${stored.reason}`;
      return { files, env: { TRAINYARD_CANDLES: candlesPath }, summary: `${candles.length} candles from ${source} in candles.parquet; no features (${why})` };
    }
    const featuresPath = join(dir, 'features.parquet');
    files.push({ path: featuresPath, data: stored.parquet });
    return {
      files,
      env: { TRAINYARD_CANDLES: candlesPath, TRAINYARD_FEATURES: featuresPath },
      summary: `${candles.length} candles from ${source} in candles.parquet; features from ${stored.key} in features.parquet`,
    };
  }
}
