import path from 'node:path';
import { z } from 'zod';

/**
 * The one validated configuration object. Nothing else in the server reads process.env.
 * A bad value stops the start with a message naming the variable and what was expected.
 */
const boolFromEnv = z.enum(['1', '0', 'true', 'false', 'yes', 'no']).transform((v) => v === '1' || v === 'true' || v === 'yes');

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s ? s : undefined));

/**
 * The live call's variables (docs/sfu.md), kept as named: server/sfu/config.ts checks how they fit
 * together and derives the call settings (the address to announce depends on the machine's network).
 */
export const sfuEnvSchema = z.object({
  SFU_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  SFU_LISTEN_IP: optionalString,
  SFU_ANNOUNCED_ADDRESS: optionalString,
  SFU_RTC_MIN_PORT: z.coerce.number().int().min(1024).max(65535).default(40000),
  SFU_RTC_MAX_PORT: z.coerce.number().int().min(1024).max(65535).default(49999),
  SFU_MAX_INCOMING_BITRATE: z.coerce.number().int().min(100_000).default(1_500_000),
  SFU_INITIAL_OUTGOING_BITRATE: z.coerce.number().int().min(100_000).default(600_000),
  /** Server-side cap on what the SFU sends to each participant (kbps), e.g. to spare a shared clinic uplink; unset = no cap. */
  SFU_MAX_OUTGOING_KBPS: z.coerce.number().int().min(50).max(100_000).optional(),
  SFU_AUDIO_ONLY_KBPS: z.coerce.number().min(10).default(150),
  SFU_AUDIO_ONLY_RECOVER_KBPS: z.coerce.number().min(10).default(250),
  SFU_POLICY_INTERVAL_MS: z.coerce.number().int().min(200).max(60_000).default(2000),
  SFU_RECONNECT_GRACE_S: z.coerce.number().min(0).max(600).default(30),
  SFU_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  TURN_URLS: optionalString,
  TURN_SECRET: optionalString,
  TURN_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(6 * 3600),
  MEDIASOUP_WORKER_BIN: optionalString,
});
export type SfuEnv = z.infer<typeof sfuEnvSchema>;

const envSchema = sfuEnvSchema.extend({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url().optional(),
  HOICHAN_DATA_DIR: z.string().min(1).default('data'),
  HOICHAN_CACHE: z.string().min(1).optional(),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI')
    .optional(),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'letters, digits and _ only')
    .default('hoichan'),
  FERRETDB_BIN: z.string().optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  HOICHAN_COMPARTMENT_CACHE: z.coerce.number().int().min(0).max(100000).default(200),
  HOICHAN_DB_HANDLER: z.enum(['sqlite', 'postgresql']).optional(),
  HOICHAN_PG_BIN_DIR: z.string().optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_ISSUER: z.string().min(1).default('hoichan'),
  JWT_AUDIENCE: z.string().min(1).default('hoichan-api'),
  ACCESS_TOKEN_TTL_S: z.coerce.number().int().min(30).max(900).default(900),
  REFRESH_TOKEN_TTL_S: z.coerce
    .number()
    .int()
    .min(300)
    .max(60 * 60 * 24 * 30)
    .default(60 * 60 * 12),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: z.coerce.number().int().min(1).default(5),
  LOGIN_ACCOUNT_WINDOW_S: z.coerce.number().int().min(1).default(900),
  LOGIN_MAX_ATTEMPTS_PER_IP: z.coerce.number().int().min(1).default(30),
  LOGIN_IP_WINDOW_S: z.coerce.number().int().min(1).default(60),
  HOICHAN_DEMO_PASSWORD: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Unset: seed in development and test, not in production. */
  HOICHAN_SEED_DEMO: boolFromEnv.optional(),
  HOICHAN_KEY_ENCRYPTION_SECRET: z.string().min(32).optional(),
  HOICHAN_AUDIT_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  HOICHAN_AUDIT_CHECKPOINT_S: z.coerce.number().int().min(1).max(3600).default(10),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  JSON_BODY_LIMIT: z
    .string()
    .regex(/^\d+(kb|mb)$/i, 'like 10mb')
    .default('10mb'),
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  CLIENT_DIST_DIR: z.string().optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60000).default(8000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600000).default(30000),
  SOCKET_EVENTS_PER_S: z.coerce.number().positive().default(20),
  SOCKET_EVENT_BURST: z.coerce.number().int().min(1).default(60),
  SOCKET_USER_EVENTS_PER_S: z.coerce.number().positive().default(40),
  SOCKET_USER_EVENT_BURST: z.coerce.number().int().min(1).default(120),
  SOCKET_STRIKE_BUDGET: z.coerce.number().int().min(1).default(10),
  HOICHAN_TRIAGE_WEIGHTS_DIR: z.string().min(1).optional(),
  HOICHAN_DICOMWEB_URL: z.url().optional(),
  HOICHAN_DICOMWEB_BASIC_AUTH: z
    .string()
    .regex(/^[^:]+:/, 'like user:password')
    .optional(),
  HOICHAN_SIGNING_CA_CERT: z.string().min(1).optional(),
  HOICHAN_SIGNING_CA_KEY: z.string().min(1).optional(),
  HOICHAN_SIGNING_TRUST: z.string().min(1).optional(),
  HOICHAN_SIGNING_CRL: z.string().min(1).optional(),
});

export type HoichanConfig = ReturnType<typeof toConfig>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function toConfig(env: z.infer<typeof envSchema>, cwd: string) {
  const dataDir = path.resolve(cwd, env.HOICHAN_DATA_DIR);
  return {
    env: env.NODE_ENV,
    http: {
      port: env.PORT,
      host: env.HOST,
      publicUrl: env.PUBLIC_URL,
      jsonBodyLimit: env.JSON_BODY_LIMIT,
      uploadMaxBytes: env.UPLOAD_MAX_BYTES,
      clientDistDir: path.resolve(cwd, env.CLIENT_DIST_DIR ?? 'client/dist'),
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    },
    dataDir,
    cacheDir: env.HOICHAN_CACHE ?? path.join(process.env.HOME ?? cwd, '.cache', 'hoichan'),
    /** Set when several server processes share realtime rooms, login limits and account changes (docs/deploy.md). */
    redisUrl: env.REDIS_URL,
    database: {
      /** Unset: the server starts and supervises an embedded FerretDB. */
      uri: env.MONGODB_URI,
      name: env.MONGODB_DB,
      ferretdbBin: env.FERRETDB_BIN,
      /** Storage of the embedded FerretDB. Unset: PostgreSQL when Debian's `postgresql` is installed, else SQLite. */
      handler: env.HOICHAN_DB_HANDLER,
      postgresBinDir: env.HOICHAN_PG_BIN_DIR,
    },
    auth: {
      /** Unset: a random secret is generated once and kept in the data directory. */
      jwtSecret: env.JWT_SECRET,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTokenTtlS: env.ACCESS_TOKEN_TTL_S,
      refreshTokenTtlS: env.REFRESH_TOKEN_TTL_S,
      loginRateLimit: {
        maxFailuresPerAccount: env.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        accountWindowS: env.LOGIN_ACCOUNT_WINDOW_S,
        maxAttemptsPerIp: env.LOGIN_MAX_ATTEMPTS_PER_IP,
        ipWindowS: env.LOGIN_IP_WINDOW_S,
      },
      keyEncryptionSecret: env.HOICHAN_KEY_ENCRYPTION_SECRET,
    },
    emr: {
      /** Patient compartments kept in memory per process for $summary/$everything; 0 switches the cache off. */
      compartmentCacheSize: env.HOICHAN_COMPARTMENT_CACHE,
    },
    audit: {
      /** Key of the audit trail's checkpoints. Unset: generated once into the data folder (never the database). */
      checkpointKey: env.HOICHAN_AUDIT_KEY,
      checkpointIntervalMs: env.HOICHAN_AUDIT_CHECKPOINT_S * 1000,
    },
    demo: { seed: env.HOICHAN_SEED_DEMO ?? env.NODE_ENV !== 'production', password: env.HOICHAN_DEMO_PASSWORD },
    logLevel: env.LOG_LEVEL,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    imaging: {
      /** Folder of the triage models. Unset: ml/weights. */
      triageWeightsDir: env.HOICHAN_TRIAGE_WEIGHTS_DIR,
      /** The PACS every decoded DICOM upload is copied to (docs/imaging.md); null: none. */
      dicomweb: env.HOICHAN_DICOMWEB_URL
        ? { url: env.HOICHAN_DICOMWEB_URL, ...(env.HOICHAN_DICOMWEB_BASIC_AUTH ? { basicAuth: env.HOICHAN_DICOMWEB_BASIC_AUTH } : {}) }
        : null,
    },
    /** The hospital CA for report signatures (docs/consults.md); both unset: the demo CA kept in the database. */
    signing: {
      caCertFile: env.HOICHAN_SIGNING_CA_CERT,
      caKeyFile: env.HOICHAN_SIGNING_CA_KEY,
      trustFile: env.HOICHAN_SIGNING_TRUST,
      /** Comma-separated PEM/DER files. */
      crlFiles: env.HOICHAN_SIGNING_CRL,
    },
    sfu: pickSfuEnv(env),
    realtime: {
      perConnection: { ratePerS: env.SOCKET_EVENTS_PER_S, burst: env.SOCKET_EVENT_BURST },
      perUser: { ratePerS: env.SOCKET_USER_EVENTS_PER_S, burst: env.SOCKET_USER_EVENT_BURST },
      strikeBudget: env.SOCKET_STRIKE_BUDGET,
    },
  };
}

function pickSfuEnv(env: SfuEnv): SfuEnv {
  return Object.fromEntries(Object.keys(sfuEnvSchema.shape).map((k) => [k, env[k as keyof SfuEnv]])) as SfuEnv;
}

/** Reads and validates the environment. Throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): HoichanConfig {
  // An empty variable means "not set" (e.g. `MONGODB_URI=` in a .env file).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (i) => `${i.path.join('.') || '(env)'}: ${i.message} (got ${JSON.stringify(i.path.length ? env[String(i.path[0])] : undefined)})`,
      ),
    );
  }
  const cfg = toConfig(parsed.data, cwd);
  if (!cfg.signing.caCertFile !== !cfg.signing.caKeyFile) {
    throw new ConfigError(['HOICHAN_SIGNING_CA_CERT and HOICHAN_SIGNING_CA_KEY: set both (the hospital CA) or neither (the demo CA)']);
  }
  if (cfg.env === 'production') {
    // Secrets generated into the data folder would sit next to what they protect.
    const problems: string[] = [];
    if (!cfg.auth.jwtSecret) problems.push('JWT_SECRET: required in production (at least 32 characters)');
    if (!cfg.auth.keyEncryptionSecret)
      problems.push('HOICHAN_KEY_ENCRYPTION_SECRET: required in production (at least 32 characters; keep it outside the data folder and the database)');
    // A generated demo password is printed on the console, which production never does.
    if (!cfg.audit.checkpointKey) problems.push('HOICHAN_AUDIT_KEY: required in production (at least 32 characters; keep it outside the database)');
    if (cfg.demo.seed && !cfg.demo.password)
      problems.push('HOICHAN_DEMO_PASSWORD: required in production when HOICHAN_SEED_DEMO is true (the password is never printed in production)');
    if (problems.length) throw new ConfigError(problems);
  }
  return cfg;
}
