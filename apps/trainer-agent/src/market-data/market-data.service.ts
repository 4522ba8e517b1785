import { Inject, Injectable } from '@nestjs/common';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { JobSpec } from '@trainyard/contracts';
import { AGENT_CONFIG, type AgentConfig } from '../config/agent.config';
import { endOfDataDate, timeframeMs, type Candle } from '../training/candles';
import { AttemptError } from '../jobs/training-errors';
import { parseCandleCsv } from './candle-csv';
import { parseCandleParquet } from './candle-parquet';

// Binance spot klines: [openTime, open, high, low, close, volume, closeTime, …] with prices as strings.
const Klines = z.array(z.tuple([z.number(), z.string(), z.string(), z.string(), z.string(), z.string()]).rest(z.unknown()));
const PAGE = 1000;

/**
 * Candles for a job: the last `lookbackCandles` of its timeframe before the end of its data date,
 * from Parquet or CSV files, an exchange's public klines API (Binance's shape, configurable base
 * URL), or none (the built-in trainer then generates seeded synthetic candles).
 */
@Injectable()
export class MarketDataService {
  constructor(@Inject(AGENT_CONFIG) private readonly cfg: AgentConfig) {}

  async candlesFor(spec: JobSpec): Promise<Candle[] | undefined> {
    const end = endOfDataDate(spec.date);
    if (this.cfg.AGENT_DATA_SOURCE === 'synthetic') return undefined;
    if (this.cfg.AGENT_DATA_SOURCE === 'files') return this.fromFiles(spec, end);
    return this.fromExchange(spec, end);
  }

  /** Where a job's candles come from, as feature files record it: features from other candles are other features. */
  sourceFor(spec: JobSpec): string {
    if (this.cfg.AGENT_DATA_SOURCE === 'synthetic') return `synthetic:seed=${spec.model.seed}`;
    if (this.cfg.AGENT_DATA_SOURCE === 'files') return 'files';
    return `exchange:${new URL(this.cfg.EXCHANGE_API_URL!).host}`;
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

  /** Pages backwards from the end of the data date, 1,000 candles a request, until the lookback is covered. */
  private async fromExchange(spec: JobSpec, end: number): Promise<Candle[]> {
    const base = this.cfg.EXCHANGE_API_URL!;
    const step = timeframeMs(spec.timeframe);
    const pages: Candle[][] = [];
    let count = 0;
    let endTime = end - 1;
    while (count < spec.lookbackCandles) {
      const limit = Math.min(PAGE, spec.lookbackCandles - count);
      const url = new URL('api/v3/klines', base.endsWith('/') ? base : `${base}/`);
      url.search = new URLSearchParams({ symbol: spec.symbol, interval: spec.timeframe, endTime: String(endTime), limit: String(limit) }).toString();
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) }).catch((err) => {
        throw new AttemptError('network', true, `exchange unreachable: ${(err as Error).message}`);
      });
      if (res.status === 400) throw new AttemptError('bad_data', false, `exchange refused ${spec.symbol} ${spec.timeframe}: ${await res.text()}`);
      if (!res.ok) throw new AttemptError('network', true, `exchange answered ${res.status} for klines`);
      const parsed = Klines.safeParse(await res.json());
      if (!parsed.success) throw new AttemptError('bad_data', false, `unexpected klines answer: ${parsed.error.issues[0]?.message ?? parsed.error.message}`);
      const page = parsed.data.map(([openTime, open, high, low, close, volume]) => ({ openTime, open: Number(open), high: Number(high), low: Number(low), close: Number(close), volume: Number(volume) }));
      const [first] = page;
      if (first === undefined) break;
      pages.unshift(page);
      count += page.length;
      endTime = first.openTime - 1;
      if (page.length < limit) break;
    }
    const candles = pages.flat();
    const last = candles[candles.length - 1];
    if (last && last.openTime + step > end) throw new AttemptError('bad_data', false, `the exchange returned candles past ${new Date(end).toISOString()}`);
    return candles;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
