import { hostname } from 'node:os';
import { z } from 'zod';
import { busEnv, envInt, envList, envNumber, httpEnv, storageEnv } from '@trainyard/config';
import { Id } from '@trainyard/contracts';
import { parseTrainers } from '../jobs/trainer-allowlist';

const defaultAgentId = () =>
  `local-${hostname()
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')}`.slice(0, 100);

export const agentEnv = z
  .object({
    ...busEnv,
    ...storageEnv,
    ...httpEnv(3003),
    /** Stable across restarts of the same box, so its durable assign consumer is kept. */
    AGENT_ID: Id.default(defaultAgentId()),
    AGENT_PROVIDER: z.enum(['local', 'vast']).default('local'),
    /** CPU training slots; unset keeps one core free for the system (two on machines with more than 8). */
    AGENT_CPU_SLOTS: z.coerce.number().int().min(0).max(1024).optional(),
    AGENT_HEARTBEAT_MS: envInt(5000, 100),
    /** Least interval between two progress events of one job. */
    AGENT_PROGRESS_INTERVAL_MS: envInt(2000, 0),
    AGENT_WORK_DIR: z.string().default('.trainyard/work'),
    /** Where the built-in trainer's candles come from: seeded synthetic ones, CSV files, or an exchange. */
    AGENT_DATA_SOURCE: z.enum(['synthetic', 'files', 'exchange']).default('synthetic'),
    /** For `files`: a folder of <SYMBOL>_<timeframe>.parquet or .csv with open_time, open, high, low, close, volume. */
    AGENT_DATA_DIR: z.string().default('data/candles'),
    /** For `exchange`: an exchange's public API in Binance's shape (https://api.binance.com). */
    EXCHANGE_API_URL: z.string().url().optional(),
    /** The built-in trainer uploads a checkpoint every this many epochs; 0 writes none. */
    AGENT_CHECKPOINT_EVERY_EPOCHS: envInt(5, 0),
    /**
     * Once a model is trained: for how long publishing its outcome and uploading its files are retried
     * through bus or storage outages before the attempt fails with a retryable error.
     */
    AGENT_OUTCOME_RETRY_SECONDS: envNumber(120, 0),
    /** Readiness fails below this much free disk in the work folder. */
    AGENT_MIN_FREE_DISK_GB: z.coerce.number().min(0).default(1),
    /**
     * On a rented instance: destroy it (through the API, with the instance's own key) once no heartbeat
     * has reached the bus for this long, so a broker that died for good cannot leave it billing. 0 is off.
     */
    AGENT_ORPHAN_DESTROY_SECONDS: envNumber(0, 0),
    /** On a rented instance: destroy it past this time whatever else happens (the broker's max runtime, plus grace). */
    AGENT_DEADLINE: z.string().datetime({ offset: true }).optional(),
    VAST_API_URL: z.string().url().default('https://console.vast.ai'),
    /** Set by Vast.ai inside every instance: its id, and a key that can only show, stop or destroy it. */
    CONTAINER_ID: z.coerce.number().int().positive().optional(),
    CONTAINER_API_KEY: z.string().min(1).optional(),
    /**
     * The trainers `command` jobs may name, as `name=command line` entries separated by `;`
     * (`pytorch=python3 examples/pytorch/train.py`); `worker:name=…` for a trainer that stays running
     * and takes its jobs on stdin. A job naming any other is refused; unset allows none.
     */
    AGENT_TRAINERS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        try {
          return parseTrainers(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
    /** A `worker:` trainer's process idle this long is closed (it may hold a GPU's memory); the next job starts another. */
    AGENT_TRAINER_WORKER_IDLE_SECONDS: envNumber(60, 0),
    /** The account trainers run as when the agent runs as root (e.g. `nobody`); unset keeps the agent's. */
    AGENT_TRAINER_USER: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a user name')
      .optional(),
    /** Variables of the agent's environment passed on to trainers besides PATH, locale and CUDA's (comma-separated names). */
    AGENT_TRAINER_ENV: envList,
    /** The nvidia-smi to ask for GPUs; `none` skips GPU discovery. */
    AGENT_NVIDIA_SMI: z.string().default('nvidia-smi'),
  })
  .refine((c) => c.AGENT_DATA_SOURCE !== 'exchange' || c.EXCHANGE_API_URL, {
    path: ['EXCHANGE_API_URL'],
    message: 'set it when AGENT_DATA_SOURCE is exchange',
  });

export type AgentConfig = z.output<typeof agentEnv>;
export const AGENT_CONFIG = Symbol('AGENT_CONFIG');
