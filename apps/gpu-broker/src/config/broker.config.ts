import { z } from 'zod';
import { busEnv, databaseEnv, envInt, envNumber, httpEnv } from '@trainyard/config';

export const brokerEnv = z.object({
  ...busEnv,
  ...databaseEnv,
  ...httpEnv(3002),
  /** An agent whose last heartbeat is older than this loses its leases. */
  BROKER_AGENT_SILENCE_SECONDS: envNumber(30, 1),
  /** Jobs sharing one GPU at most. */
  BROKER_MAX_JOBS_PER_GPU: envInt(12, 1, 1000),
  /** Fraction of each GPU's memory kept free when packing jobs by their declared memory. */
  BROKER_GPU_MEMORY_MARGIN: envNumber(0.05, 0),
  /** Price per hour of a local slot, so local runs can be costed like rented ones. */
  BROKER_LOCAL_PRICE_PER_HOUR: envNumber(0, 0),
  BROKER_TICK_MS: envInt(2000, 50),
});

export type BrokerConfig = z.output<typeof brokerEnv>;
export const BROKER_CONFIG = Symbol('BROKER_CONFIG');
