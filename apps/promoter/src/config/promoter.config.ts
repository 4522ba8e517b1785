import { z } from 'zod';
import { apiEnv, busEnv, databaseEnv, envBool, envInt, httpEnv, storageEnv } from '@trainyard/config';

export const promoterEnv = z.object({
  ...busEnv,
  ...databaseEnv,
  ...storageEnv,
  ...apiEnv,
  ...httpEnv(3004),
  /** Every `auto` promotion is decided and reported but never applied: for an installation under test. */
  PROMOTER_DRY_ONLY: envBool(false),
  /** Replaced by PROMOTER_DRY_ONLY: still set (whatever its value), the promoter refuses to start and says what to set instead. */
  RUN_MODE: z
    .never({ error: 'RUN_MODE was replaced by PROMOTER_DRY_ONLY=true (canary and live both meant dry-only); remove RUN_MODE, and set PROMOTER_DRY_ONLY=true where it was canary or live' })
    .optional(),
  RETENTION_INTERVAL_MINUTES: envInt(60, 1),
  /** Versions per symbol kept by Sharpe, on top of the production and the previous production version. */
  RETENTION_KEEP_TOP: envInt(5, 0),
  RETENTION_CHECKPOINT_ARCHIVE_DAYS: envInt(30, 1),
  /** Attempt folders no version was registered from are deleted after this many days. */
  RETENTION_ABANDONED_DAYS: envInt(90, 1),
  /** Storage quota in GB (10^9 bytes); unset, the report has no usage fraction and nothing warns. */
  STORAGE_QUOTA_GB: z.coerce.number().positive().optional(),
  /** Absolute floors, checked before any comparison (a first model included); unset, none applies. */
  PROMOTER_MIN_SHARPE: z.coerce.number().finite().optional(),
  /** A fraction: 0.52 is a 52% directional hit rate. */
  PROMOTER_MIN_HIT_RATE: z.coerce.number().min(0).max(1).optional(),
  /** A fraction of the peak: 0.25 refuses a model that lost more than 25% from a peak in evaluation. */
  PROMOTER_MAX_DRAWDOWN: z.coerce.number().min(0).max(1).optional(),
});

export type PromoterConfig = Omit<z.output<typeof promoterEnv>, 'RUN_MODE'>;

export const promotionFloors = (cfg: PromoterConfig) => ({ minSharpe: cfg.PROMOTER_MIN_SHARPE, minHitRate: cfg.PROMOTER_MIN_HIT_RATE, maxDrawdown: cfg.PROMOTER_MAX_DRAWDOWN });
export const PROMOTER_CONFIG = Symbol('PROMOTER_CONFIG');
