import { z } from 'zod';
import { busEnv, databaseEnv, envInt, envNumber, httpEnv, storageEnv } from '@trainyard/config';

export const schedulerEnv = z.object({
  ...busEnv,
  ...databaseEnv,
  ...storageEnv,
  ...httpEnv(3001),
  /** hybrid mode's concurrency when a run does not say (2 suits a CPU box; 12 per GPU where GPUs exist). */
  SCHEDULER_DEFAULT_MAX_CONCURRENT: envInt(2, 1, 10_000),
  SCHEDULER_DEFAULT_TIMEOUT_MINUTES: envNumber(45, 1),
  SCHEDULER_MAX_RETRIES: envInt(2, 0, 10),
  SCHEDULER_RETRY_BASE_SECONDS: envNumber(30, 0),
  /** Expected duration of a symbol never trained before, for longest-first ordering. */
  SCHEDULER_DEFAULT_EXPECTED_MINUTES: envNumber(10, 0),
  SCHEDULER_LOOKBACK_CANDLES: envInt(2000, 200, 1_000_000),
  SCHEDULER_TIMEFRAME: z.enum(['1m', '5m', '15m', '1h', '4h', '1d']).default('1h'),
  /** Ranked symbol list (one per line, best first) for `topN` selections; unset uses the built-in list. */
  SCHEDULER_UNIVERSE_FILE: z.string().optional(),
  SCHEDULER_TICK_MS: envInt(1000, 50),
});

export type SchedulerConfig = z.output<typeof schedulerEnv>;
export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');

