import { z } from 'zod';
import { busEnv, databaseEnv, envBool, envInt, envList, envNumber, httpEnv, storageEnv } from '@trainyard/config';

/** Renting on Vast.ai: on only when VAST_API_KEY is set. */
const vastEnv = {
  VAST_API_KEY: z.string().min(1).optional(),
  /** The API's origin; the client adds /api/v0 and /api/v1, so a test server can stand in. */
  VAST_API_URL: z.string().url().default('https://console.vast.ai'),
  /** Names this installation in every instance label, so the reaper only touches its own. */
  VAST_INSTALLATION: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'lower-case letters, digits, "_" or "-"')
    .optional(),
  VAST_MAX_INSTANCES: envInt(4, 0, 1000),
  VAST_MAX_PRICE_PER_HOUR: envNumber(2, 0),
  /** Vast's GPU names, spaces allowed (e.g. "RTX 4090,H100 SXM"); empty accepts any. */
  VAST_GPU_TYPES: envList,
  VAST_MIN_GPU_MEMORY_GB: envNumber(16, 0),
  VAST_MIN_RELIABILITY: envNumber(0.95, 0),
  VAST_NUM_GPUS: envInt(1, 1, 16),
  VAST_DISK_GB: envInt(20, 8, 10_000),
  VAST_IMAGE: z.string().min(1).max(1024).default('vastai/pytorch:latest'),
  /** Interruptible (bid) instances at the offer's minimum bid; outbid ones are destroyed and their jobs resume elsewhere. */
  VAST_INTERRUPTIBLE: envBool(false),
  VAST_MAX_RUNTIME_MINUTES: envNumber(360, 1),
  VAST_IDLE_SECONDS: envNumber(120, 0),
  VAST_DAILY_BUDGET_USD: envNumber(50, 0),
  VAST_PROVISION_TIMEOUT_SECONDS: envNumber(600, 1),
  /** How often a provisioning instance is polled, and running ones checked for being outbid. */
  VAST_POLL_MS: envInt(10_000, 10),
  VAST_REAP_SECONDS: envNumber(300, 1),
  /** First retry delay for 429 and 5xx answers; it grows 1.5× per retry. */
  VAST_API_RETRY_BASE_MS: envInt(500, 1),
  VAST_API_RETRIES: envInt(6, 0, 50),
  /** The broker's SSH key (OpenSSH ed25519); created on first use when missing. */
  VAST_SSH_KEY_PATH: z.string().optional(),
  /**
   * An agent on a rented instance cut off from the bus this long destroys its own instance (with
   * Vast's per-instance key), in case this broker died for good; it also does so past its max runtime plus this. 0 is off.
   */
  VAST_AGENT_ORPHAN_SECONDS: envNumber(600, 0),
  /** Extra environment for agents on rented instances, e.g. AGENT_DATA_SOURCE=exchange. */
  VAST_AGENT_ENV: envList,
  /** The agents' nkey seed on an authenticated bus, handed to rented agents in their environment file (mode 600). */
  VAST_AGENT_NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, 'a user nkey seed (SU…)')
    .optional(),
  /** The trainers rented agents allow (their AGENT_TRAINERS): `name=command line` entries separated by `;`. */
  VAST_AGENT_TRAINERS: z.string().optional(),
  /** Folder on the instance, under the SSH user's home, that holds the agent. */
  VAST_AGENT_DIR: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('trainyard-agent'),
};

export const brokerEnv = z
  .object({
    ...busEnv,
    ...databaseEnv,
    ...storageEnv,
    ...httpEnv(3002),
    /** An agent whose last heartbeat is older than this loses its leases. */
    BROKER_AGENT_SILENCE_SECONDS: envNumber(30, 1),
    /** A lease its agent, heartbeating, has left out of its running list this long is lost (its outcome never reached the bus). */
    BROKER_UNREPORTED_LEASE_SECONDS: envNumber(60, 1),
    /** Jobs sharing one GPU at most. */
    BROKER_MAX_JOBS_PER_GPU: envInt(12, 1, 1000),
    /** Fraction of each GPU's memory kept free when packing jobs by their declared memory. */
    BROKER_GPU_MEMORY_MARGIN: envNumber(0.05, 0),
    /** Price per hour of a local slot, so local runs can be costed like rented ones. */
    BROKER_LOCAL_PRICE_PER_HOUR: envNumber(0, 0),
    BROKER_TICK_MS: envInt(2000, 50),
    /** A GPU job is packed by the most memory its symbol used alone on a GPU, times this, once that is known. */
    BROKER_LEARNED_MEMORY_HEADROOM: envNumber(1.2, 1),
    ...vastEnv,
  })
  .refine((c) => c.VAST_AGENT_ENV.every((kv) => /^[A-Z_][A-Z0-9_]*=/.test(kv)), {
    path: ['VAST_AGENT_ENV'],
    message: 'each entry must be NAME=value',
  });

export type BrokerConfig = z.output<typeof brokerEnv>;
export const BROKER_CONFIG = Symbol('BROKER_CONFIG');
