import { z } from 'zod';
import { busEnv, databaseEnv, httpEnv, storageEnv } from '@trainyard/config';

export const promoterEnv = z.object({
  ...busEnv,
  ...databaseEnv,
  ...storageEnv,
  ...httpEnv(3004),
  /** `canary` and `live` mark an installation under test: it decides and reports, but never promotes. */
  RUN_MODE: z.enum(['canary', 'live', 'normal']).default('normal'),
});

export type PromoterConfig = z.output<typeof promoterEnv>;
export const PROMOTER_CONFIG = Symbol('PROMOTER_CONFIG');
