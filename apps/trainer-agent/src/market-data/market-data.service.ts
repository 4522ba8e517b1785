import { Inject, Injectable } from '@nestjs/common';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobSpec } from '@trainyard/contracts';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { endOfDataDate, type Candle } from '../training/candles';
import { AttemptError } from '../jobs/training-errors';
import { parseCandleCsv } from './candle-csv';
import { parseCandleParquet } from './candle-parquet';
import { KlinesClient } from './klines-client';

/**
 * Candles for a job: the last `lookbackCandles` of its timeframe before the end of its data date,
 * from Parquet or CSV files, an exchange's public klines API (KlinesClient), or none (the built-in
 * trainer then generates seeded synthetic candles).
 */
@Injectable()
export class MarketDataService {
  constructor(
    @Inject(AGENT_CONFIG) private readonly cfg: AgentConfig,
    private readonly klines: KlinesClient,
  ) {}

  async candlesFor(spec: JobSpec): Promise<Candle[] | undefined> {
    const end = endOfDataDate(spec.date);
    if (this.cfg.AGENT_DATA_SOURCE === 'synthetic') return undefined;
    if (this.cfg.AGENT_DATA_SOURCE === 'files') return this.fromFiles(spec, end);
    return this.klines.candlesBefore(spec.symbol, spec.timeframe, end, spec.lookbackCandles);
  }

  /** Where a job's candles come from, as feature files record it: features from other candles are other features. */
  sourceFor(spec: JobSpec): string {
    if (this.cfg.AGENT_DATA_SOURCE === 'synthetic') return `synthetic:seed=${spec.model.seed}`;
    if (this.cfg.AGENT_DATA_SOURCE === 'files') return 'files';
    return `exchange:${this.klines.host}`;
  }

  /** `<SYMBOL>_<timeframe>.parquet`, else `.csv`; the extension picks the reader. */
  private async fromFiles(spec: JobSpec, end: number): Promise<Candle[]> {
    const base = join(this.cfg.AGENT_DATA_DIR, `${spec.symbol}_${spec.timeframe}`);
    const path = (await exists(`${base}.parquet`)) ? `${base}.parquet` : `${base}.csv`;
    let body: Buffer;
    try {
      body = await readFile(path);
    } catch (err) {
      throw new AttemptError('bad_data', false, `no candles for ${spec.symbol} ${spec.timeframe} (neither ${base}.parquet nor .csv): ${(err as Error).message}`);
    }
    let candles: Candle[];
    try {
      candles = path.endsWith('.parquet') ? await parseCandleParquet(body) : parseCandleCsv(body.toString('utf8'));
    } catch (err) {
      throw new AttemptError('bad_data', false, `${path}: ${(err as Error).message}`);
    }
    return candles.filter((c) => c.openTime < end).slice(-spec.lookbackCandles);
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
