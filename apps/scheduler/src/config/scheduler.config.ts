import { z } from 'zod';
import { apiEnv, busEnv, databaseEnv, envInt, envNumber, httpEnv, storageEnv } from '@trainyard/config';
import { ConcurrencyMode, PromotionPolicy, SymbolName } from '@trainyard/contracts';

export const schedulerEnv = z.object({
  ...busEnv,
  ...databaseEnv,
  ...storageEnv,
  ...apiEnv,
  ...httpEnv(3001),
  /** hybrid mode's concurrency when a run does not say; unset: 12 per GPU the broker has, 2 without GPUs. */
  SCHEDULER_DEFAULT_MAX_CONCURRENT: z.coerce.number().int().min(1).max(10_000).optional(),
  SCHEDULER_DEFAULT_TIMEOUT_MINUTES: envNumber(45, 1),
  /** GPU memory a command job declares when its run does not say and the broker has GPUs. */
  SCHEDULER_DEFAULT_GPU_MEMORY_GB: envNumber(4, 0),
  SCHEDULER_MAX_RETRIES: envInt(2, 0, 10),
  SCHEDULER_RETRY_BASE_SECONDS: envNumber(30, 0),
  /** Expected duration of a symbol never trained before, for longest-first ordering. */
  SCHEDULER_DEFAULT_EXPECTED_MINUTES: envNumber(10, 0),
  SCHEDULER_LOOKBACK_CANDLES: envInt(2000, 200, 1_000_000),
  SCHEDULER_TIMEFRAME: z.enum(['1m', '5m', '15m', '1h', '4h', '1d']).default('1h'),
  /** Ranked symbol list (one per line, best first) for `topN` selections; unset: the exchange's 24h volume, else a built-in list. */
  SCHEDULER_UNIVERSE_FILE: z.string().optional(),
  /** Quote asset of the symbols ranked from the exchange. */
  SCHEDULER_UNIVERSE_QUOTE: z
    .string()
    .regex(/^[A-Z0-9]{2,10}$/, 'an upper-case asset such as USDT')
    .default('USDT'),
  /** Base URL of an exchange's public market data API in Binance's shape (https://api.binance.com). */
  EXCHANGE_API_URL: z.string().url().optional(),
  /** Taker fee in basis points, used with the exchange's spreads. */
  SCHEDULER_FEE_BPS: envNumber(10, 0),
  SCHEDULER_TICK_MS: envInt(1000, 50),
  /** Trading costs per symbol (JSON: {"default": {feeBps, spreadBps}, "symbols": {...}}); unset uses 10 bps fee, 2 bps spread. */
  SCHEDULER_COSTS_FILE: z.string().optional(),
  /** The daily run's slot, HH:MM in UTC; it trains yesterday's data. */
  SCHEDULER_DAILY_AT: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (UTC)')
    .default('00:15'),
  /** The daily run's symbols: a list, topN, or a CSV file on this machine, read at each daily run; unset turns the daily run off. */
  SCHEDULER_DAILY_SYMBOLS: z
    .string()
    .optional()
    .transform((v, ctx): DailySymbols | undefined => {
      if (!v) return undefined;
      const top = /^top(\d+)$/i.exec(v);
      if (top) return { topN: Number(top[1]) };
      if (/\.csv$/i.test(v)) return { csvFile: v };
      const list = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const s of list) {
        if (!SymbolName.safeParse(s).success) ctx.addIssue({ code: 'custom', message: `"${s}" is not a symbol; use a list, topN or a .csv path` });
      }
      return list;
    }),
  SCHEDULER_DAILY_MODE: ConcurrencyMode.default('hybrid'),
  SCHEDULER_DAILY_PROMOTE: PromotionPolicy.default('off'),
  /** Retention: an attempt's log is deleted this many days after it finished (never a production model's). */
  TRACKING_LOG_RETENTION_DAYS: envNumber(7, 0.0001),
  /** A failed, lost, timed-out or cancelled attempt's tracked data (its metric series) goes this many days after it finished. */
  TRACKING_FAILED_RETENTION_DAYS: envNumber(30, 0.0001),
  /** A succeeded job's rows (job, attempts, series, ledger entry) go this many days after it finished, unless its model is or was in production. */
  SCHEDULER_RETENTION_SUCCEEDED_DAYS: envNumber(90, 0.0001),
  /** A failed, cancelled, skipped or dry-run job's rows, and its attempts' files, go this many days after it ended. */
  SCHEDULER_RETENTION_FAILED_DAYS: envNumber(30, 0.0001),
  /** The daily retention pass's slot, HH:MM in UTC. */
  SCHEDULER_RETENTION_AT: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (UTC)')
    .default('03:30'),
  /** An MLflow tracking server to mirror every tracked run to (its REST API), e.g. http://mlflow:5000; unset: none. */
  MLFLOW_TRACKING_URI: z.string().url().optional(),
  /** Bearer token for MLflow behind an auth proxy (MLflow's own variable); or MLFLOW_TRACKING_USERNAME and _PASSWORD for basic auth. */
  MLFLOW_TRACKING_TOKEN: z.string().optional(),
  MLFLOW_TRACKING_USERNAME: z.string().optional(),
  MLFLOW_TRACKING_PASSWORD: z.string().optional(),
  /** How often unmirrored runs are sent to MLflow. */
  MLFLOW_SYNC_INTERVAL_MS: envInt(10_000, 100),
  /** A finished run is mirrored once this long has passed since it finished, so its last progress messages are in. */
  MLFLOW_SETTLE_SECONDS: envNumber(10, 0),
});

/** What the daily run trains: symbols, the top N of the universe, or the symbols of a CSV file on the scheduler's machine. */
export type DailySymbols = string[] | { topN: number } | { csvFile: string };

export type SchedulerConfig = z.output<typeof schedulerEnv>;
export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');
