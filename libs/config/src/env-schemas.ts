import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

export const envBool = (fallback: boolean) => bool.optional().transform((v) => v ?? fallback);
export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback);
export const envNumber = (fallback: number, min = 0) => z.coerce.number().min(min).default(fallback);
export const envList = z
  .string()
  .optional()
  .transform((v) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
  );

/** The bus: every service. */
export const busEnv = {
  /** One server, or a cluster's servers separated by commas. */
  NATS_URL: z
    .string()
    .refine((v) => v.split(',').every((u) => /^(nats|tls|ws|wss):\/\/\S+$/.test(u.trim())), 'must be nats:// URLs separated by commas')
    .default('nats://127.0.0.1:4222'),
  /** Copies of the stream JetStream keeps: 3 on a cluster (any one node may be lost). Unset: 1 for a new stream, an existing one keeps its own. */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).optional(),
  /** Whether to also connect to the servers a cluster announces; off where only the configured address is reachable (a tunnel). */
  NATS_DISCOVER_SERVERS: envBool(true),
  /** This client's nkey seed (SU…), as `trainyard nats-config` writes for its role; or NATS_USER and NATS_PASSWORD. */
  NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, 'a user nkey seed (SU…)')
    .optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** Subject prefix and stream name; one installation (or one test) per prefix. */
  TRAINYARD_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,30}$/, 'lower-case letters, digits, "_" or "-"')
    .default('trainyard'),
  BUS_MAX_DELIVER: envInt(5, 2, 100),
  BUS_RETRY_BASE_MS: envInt(1000, 10),
  BUS_ACK_WAIT_SECONDS: envNumber(30, 1),
};

/** PostgreSQL; unset means an embedded PostgreSQL in DATA_DIR. */
export const databaseEnv = {
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_POOL_SIZE: envInt(10, 2, 1000),
  /** At start, how long a refused connection is tried again: the database may be starting beside the service. */
  DATABASE_WAIT_SECONDS: envInt(0, 0, 3600),
  /** Parameterised statements prepared by name, parsed and planned once per connection; off behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21). */
  DATABASE_PREPARED_STATEMENTS: envBool(true),
  DATA_DIR: z.string().default('.trainyard'),
};

/** Artifact storage: S3 when S3_BUCKET is set, else a local folder. */
export const storageEnv = {
  ARTIFACTS_DIR: z.string().default('.trainyard/artifacts'),
  S3_BUCKET: z.string().optional(),
  S3_PREFIX: z.string().optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_FORCE_PATH_STYLE: envBool(false),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
};

export const httpEnv = (defaultPort: number) => ({
  PORT: envInt(defaultPort, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
});

export type BusEnv = z.output<z.ZodObject<typeof busEnv>>;
export type StorageEnv = z.output<z.ZodObject<typeof storageEnv>>;
export type DatabaseEnv = z.output<z.ZodObject<typeof databaseEnv>>;

export function busOptions(env: BusEnv, serviceName: string) {
  return {
    serviceName,
    natsUrl: env.NATS_URL,
    streamReplicas: env.NATS_STREAM_REPLICAS,
    discoverServers: env.NATS_DISCOVER_SERVERS,
    auth: { nkeySeed: env.NATS_NKEY_SEED, user: env.NATS_USER, password: env.NATS_PASSWORD },
    prefix: env.TRAINYARD_PREFIX,
    maxDeliver: env.BUS_MAX_DELIVER,
    retryBaseMs: env.BUS_RETRY_BASE_MS,
    ackWaitMs: env.BUS_ACK_WAIT_SECONDS * 1000,
  };
}

export function storageOptions(env: StorageEnv) {
  if (!env.S3_BUCKET) return { kind: 'local' as const, dir: env.ARTIFACTS_DIR };
  return {
    kind: 's3' as const,
    bucket: env.S3_BUCKET,
    prefix: env.S3_PREFIX,
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  };
}

const tokenList = z
  .string()
  .optional()
  .transform((v) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
  )
  .refine((list) => list.every((t) => t.length >= 16 && /^[\x21-\x7e]+$/.test(t)), 'each token: at least 16 printable characters, no spaces');

/** Bearer tokens of a service's REST API (comma-separated); with none, the API answers nobody. */
export const apiEnv = {
  API_READ_TOKENS: tokenList,
  API_OPERATOR_TOKENS: tokenList,
};

export const apiTokens = (env: { API_READ_TOKENS: string[]; API_OPERATOR_TOKENS: string[] }) => ({ read: env.API_READ_TOKENS, operator: env.API_OPERATOR_TOKENS });
