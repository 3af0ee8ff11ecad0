import { z } from 'zod';
import type { EventStore } from '../event-store/event-store.port';

const MASTER_KEY_BYTES = 32;

/**
 * The master key from its base64 text (standard or URL alphabet, padding optional), or null
 * unless the text decodes to exactly 32 bytes with no stray characters or bits.
 */
export function decodeMasterKey(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || (text.includes('=') && text.length % 4 !== 0)) {
    return null;
  }
  const key = Buffer.from(text, 'base64');
  const canonical = (s: string) => s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return key.length === MASTER_KEY_BYTES && canonical(key.toString('base64')) === canonical(text)
    ? key
    : null;
}

/** Environment variables, validated at start. Empty values count as unset. */
const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./.data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  EVENTSTORE_CONNECTION_STRING: z
    .string()
    .regex(/^esdb(\+discover)?:\/\/.+/, 'must be an esdb:// or esdb+discover:// connection string')
    .optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  JWT_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(31_536_000)
    .default(7 * 24 * 3600),
  ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  MASTER_KEY: z
    .string()
    .refine(
      (text) => decodeMasterKey(text) !== null,
      'must be base64 of exactly 32 bytes (openssl rand -base64 32)',
    )
    .optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  MAX_TEXT_LENGTH: z.coerce.number().int().min(1).max(100_000).default(500),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
  DB_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(20),
  PROJECTIONS: z.enum(['on', 'off']).default('on'),
  PROJECTOR_LOCK_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
  RECALL_WINDOW_SECONDS: z.coerce.number().int().min(1).max(31_536_000).default(120),
  SEND_RATE_PER_SECOND: z.coerce.number().min(0.01).max(100_000).default(10),
  SEND_RATE_BURST: z.coerce.number().int().min(1).max(100_000).default(20),
  SEND_DAILY_CAP: z.coerce.number().int().min(1).max(100_000_000).default(5_000),
  REALTIME_MAX_FRAME_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(262_144),
  REALTIME_MAX_QUEUED: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  REALTIME_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1_073_741_824)
    .default(1_048_576),
  REALTIME_EVENT_RATE_PER_SECOND: z.coerce.number().min(0.01).max(100_000).default(50),
  REALTIME_EVENT_BURST: z.coerce.number().int().min(1).max(100_000).default(100),
  REALTIME_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10),
  REALTIME_MAX_UNPUSHED: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  REALTIME_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(10_000_000).default(50_000),
  GROUP_MAX_MEMBERS: z.coerce.number().int().min(2).max(1_000_000).default(20_000),
  EMOTICONS_FILE: z.string().min(1).optional(),
  KEYWORD_RULES_FILE: z.string().min(1).optional(),
});

export type AppConfig = z.infer<typeof schema>;

/** Every environment variable the configuration reads (docker/docker-compose.yml is checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(schema.shape));

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the configuration from an environment. A wrong value throws a {@link ConfigError} that
 * names each offending variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv): AppConfig {
  const input = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * What a process runs: `all` (the default, `npm start`), `api` (commands, queries and realtime;
 * several may run) or `projector` (the projections, one active at a time: see LeaderLock).
 */
export type ProcessRole = 'all' | 'api' | 'projector';

export const PROCESS_ROLES: readonly ProcessRole[] = ['all', 'api', 'projector'];

/** What the running application needs, once secrets and the database are resolved. */
export interface AppSettings {
  readonly config: AppConfig;
  /** Default `all`. */
  readonly role?: ProcessRole;
  /**
   * The event store to use, already connected (server.ts waits for EventStoreDB before building
   * the app). Default: from the configuration (EVENTSTORE_CONNECTION_STRING, else the PostgreSQL
   * log).
   */
  readonly eventStore?: EventStore;
  readonly databaseUrl: string;
  readonly jwtSecret: string;
  readonly adminApiKey: string;
  /** 32 bytes: wraps every user's data key (src/crypto/key-ring.ts). */
  readonly masterKey: Buffer;
}

export const APP_SETTINGS = Symbol('APP_SETTINGS');
