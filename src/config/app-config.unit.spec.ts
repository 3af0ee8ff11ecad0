import { ConfigError, decodeMasterKey, loadConfig } from './app-config';
import { resolveSecrets } from './secrets';

/** A valid MASTER_KEY: base64 of 32 bytes, as `openssl rand -base64 32` prints it. */
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

const VARIABLES = [
  'PORT',
  'HOST',
  'DATA_DIR',
  'DATABASE_URL',
  'EVENTSTORE_CONNECTION_STRING',
  'JWT_SECRET',
  'JWT_TTL_SECONDS',
  'ADMIN_API_KEY',
  'MASTER_KEY',
  'LOG_LEVEL',
  'MAX_TEXT_LENGTH',
  'BODY_LIMIT_BYTES',
  'DB_POOL_SIZE',
  'PROJECTIONS',
  'PROJECTOR_LOCK_POLL_MS',
  'RECALL_WINDOW_SECONDS',
  'SEND_RATE_PER_SECOND',
  'SEND_RATE_BURST',
  'SEND_DAILY_CAP',
  'REALTIME_MAX_FRAME_BYTES',
  'REALTIME_MAX_QUEUED',
  'REALTIME_MAX_BUFFERED_BYTES',
  'REALTIME_EVENT_RATE_PER_SECOND',
  'REALTIME_EVENT_BURST',
  'REALTIME_MAX_SOCKETS_PER_USER',
  'REALTIME_MAX_CONNECTIONS',
  'GROUP_MAX_MEMBERS',
  'REALTIME_MAX_UNPUSHED',
  'EMOTICONS_FILE',
  'KEYWORD_RULES_FILE',
] as const;

const DEFAULTS = {
  PORT: 3000,
  HOST: '0.0.0.0',
  DATA_DIR: './.data',
  JWT_TTL_SECONDS: 7 * 24 * 3600,
  LOG_LEVEL: 'info',
  MAX_TEXT_LENGTH: 500,
  BODY_LIMIT_BYTES: 65_536,
  DB_POOL_SIZE: 20,
  PROJECTIONS: 'on',
  PROJECTOR_LOCK_POLL_MS: 1_000,
  RECALL_WINDOW_SECONDS: 120,
  SEND_RATE_PER_SECOND: 10,
  SEND_RATE_BURST: 20,
  SEND_DAILY_CAP: 5_000,
  REALTIME_MAX_FRAME_BYTES: 262_144,
  REALTIME_MAX_QUEUED: 1_000,
  REALTIME_MAX_BUFFERED_BYTES: 1_048_576,
  REALTIME_EVENT_RATE_PER_SECOND: 50,
  REALTIME_EVENT_BURST: 100,
  REALTIME_MAX_SOCKETS_PER_USER: 10,
  REALTIME_MAX_CONNECTIONS: 50_000,
  GROUP_MAX_MEMBERS: 20_000,
  REALTIME_MAX_UNPUSHED: 1_000,
};

/** The ConfigError a bad environment throws (fails the test if it does not throw one). */
function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** True when the error message has a line for the variable. */
const names = (error: ConfigError, variable: string): boolean =>
  new RegExp(`^\\s+${variable}: `, 'm').test(error.message);

describe('loadConfig', () => {
  it('uses the defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual(DEFAULTS);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.EVENTSTORE_CONNECTION_STRING).toBeUndefined();
    expect(config.JWT_SECRET).toBeUndefined();
    expect(config.ADMIN_API_KEY).toBeUndefined();
    expect(config.MASTER_KEY).toBeUndefined();
  });

  it('counts empty strings as unset', () => {
    const env = Object.fromEntries(VARIABLES.map((v) => [v, '']));
    expect(loadConfig(env)).toEqual(DEFAULTS);
  });

  it('does not read an empty PORT as port 0', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
  });

  it('ignores variables it does not know', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'test' });
    expect(config).toEqual(DEFAULTS);
    expect(Object.keys(config)).not.toContain('PATH');
  });

  it('reads every variable from its string form', () => {
    const env = {
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/im',
      DATABASE_URL: 'postgres://im:secret@db:5432/im',
      EVENTSTORE_CONNECTION_STRING: 'esdb+discover://es.example:2113?tls=true',
      JWT_SECRET: 'x'.repeat(32),
      JWT_TTL_SECONDS: '3600',
      ADMIN_API_KEY: 'k'.repeat(24),
      MASTER_KEY,
      LOG_LEVEL: 'debug',
      MAX_TEXT_LENGTH: '1000',
      BODY_LIMIT_BYTES: '1024',
      DB_POOL_SIZE: '2',
      PROJECTIONS: 'off',
      PROJECTOR_LOCK_POLL_MS: '250',
      RECALL_WINDOW_SECONDS: '60',
      SEND_RATE_PER_SECOND: '0.5',
      SEND_RATE_BURST: '3',
      SEND_DAILY_CAP: '100',
      REALTIME_MAX_FRAME_BYTES: '2048',
      REALTIME_MAX_QUEUED: '7',
      REALTIME_MAX_BUFFERED_BYTES: '4096',
      REALTIME_EVENT_RATE_PER_SECOND: '2.5',
      REALTIME_EVENT_BURST: '9',
      REALTIME_MAX_SOCKETS_PER_USER: '3',
      REALTIME_MAX_CONNECTIONS: '100',
      GROUP_MAX_MEMBERS: '500',
      REALTIME_MAX_UNPUSHED: '4',
      EMOTICONS_FILE: '/etc/im/emoticons.json',
      KEYWORD_RULES_FILE: '/etc/im/rules.json',
    };
    expect(loadConfig(env)).toEqual({
      PORT: 8080,
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/im',
      DATABASE_URL: 'postgres://im:secret@db:5432/im',
      EVENTSTORE_CONNECTION_STRING: 'esdb+discover://es.example:2113?tls=true',
      JWT_SECRET: 'x'.repeat(32),
      JWT_TTL_SECONDS: 3600,
      ADMIN_API_KEY: 'k'.repeat(24),
      MASTER_KEY,
      LOG_LEVEL: 'debug',
      MAX_TEXT_LENGTH: 1000,
      BODY_LIMIT_BYTES: 1024,
      DB_POOL_SIZE: 2,
      PROJECTIONS: 'off',
      PROJECTOR_LOCK_POLL_MS: 250,
      RECALL_WINDOW_SECONDS: 60,
      SEND_RATE_PER_SECOND: 0.5,
      SEND_RATE_BURST: 3,
      SEND_DAILY_CAP: 100,
      REALTIME_MAX_FRAME_BYTES: 2048,
      REALTIME_MAX_QUEUED: 7,
      REALTIME_MAX_BUFFERED_BYTES: 4096,
      REALTIME_EVENT_RATE_PER_SECOND: 2.5,
      REALTIME_EVENT_BURST: 9,
      REALTIME_MAX_SOCKETS_PER_USER: 3,
      REALTIME_MAX_CONNECTIONS: 100,
      GROUP_MAX_MEMBERS: 500,
      REALTIME_MAX_UNPUSHED: 4,
      EMOTICONS_FILE: '/etc/im/emoticons.json',
      KEYWORD_RULES_FILE: '/etc/im/rules.json',
    });
  });

  it.each([
    ['PORT', '0'],
    ['PORT', '65535'],
    ['DATABASE_URL', 'postgresql://localhost/im'],
    ['EVENTSTORE_CONNECTION_STRING', 'esdb://localhost:2113'],
    ['JWT_TTL_SECONDS', '60'],
    ['JWT_TTL_SECONDS', '31536000'],
    ['MAX_TEXT_LENGTH', '1'],
    ['MAX_TEXT_LENGTH', '100000'],
    ['BODY_LIMIT_BYTES', '10485760'],
    ['DB_POOL_SIZE', '200'],
    ['LOG_LEVEL', 'silent'],
    ['MASTER_KEY', MASTER_KEY],
    ['MASTER_KEY', MASTER_KEY.replace(/=$/, '')],
    ['MASTER_KEY', Buffer.alloc(32, 0xfb).toString('base64url')],
  ])('accepts %s=%s at the edge of its range', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).not.toThrow();
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'postgres://'],
    ['EVENTSTORE_CONNECTION_STRING', 'http://es:2113'],
    ['JWT_SECRET', 'too-short'],
    ['JWT_SECRET', 'x'.repeat(31)],
    ['JWT_TTL_SECONDS', '59'],
    ['JWT_TTL_SECONDS', '31536001'],
    ['ADMIN_API_KEY', 'k'.repeat(23)],
    ['LOG_LEVEL', 'verbose'],
    ['LOG_LEVEL', 'INFO'],
    ['MAX_TEXT_LENGTH', '0'],
    ['MAX_TEXT_LENGTH', '100001'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['BODY_LIMIT_BYTES', '10485761'],
    ['DB_POOL_SIZE', '1'],
    ['DB_POOL_SIZE', '201'],
    ['PROJECTIONS', 'yes'],
    ['PROJECTOR_LOCK_POLL_MS', '49'],
    ['PROJECTOR_LOCK_POLL_MS', '60001'],
    ['RECALL_WINDOW_SECONDS', '0'],
    ['SEND_RATE_PER_SECOND', '0'],
    ['SEND_RATE_BURST', '0'],
    ['SEND_DAILY_CAP', '0'],
    ['SEND_DAILY_CAP', '1.5'],
    ['REALTIME_MAX_FRAME_BYTES', '1023'],
    ['REALTIME_MAX_QUEUED', '0'],
    ['REALTIME_MAX_BUFFERED_BYTES', '1000'],
    ['REALTIME_EVENT_RATE_PER_SECOND', '0'],
    ['REALTIME_EVENT_BURST', '0'],
    ['REALTIME_MAX_SOCKETS_PER_USER', '0'],
    ['REALTIME_MAX_CONNECTIONS', '2.5'],
    ['GROUP_MAX_MEMBERS', '1'],
    ['REALTIME_MAX_UNPUSHED', '0'],
    ['MASTER_KEY', Buffer.alloc(31, 7).toString('base64')],
    ['MASTER_KEY', Buffer.alloc(33, 7).toString('base64')],
    ['MASTER_KEY', Buffer.alloc(32, 7).toString('hex')],
    ['MASTER_KEY', `${MASTER_KEY.slice(0, 10)}!${MASTER_KEY.slice(11)}`],
    ['MASTER_KEY', `${MASTER_KEY} `],
    ['MASTER_KEY', 'correct horse battery staple'],
  ])('rejects %s=%j with a ConfigError that names it', (variable, value) => {
    const error = configErrorOf({ [variable]: value });
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(/^invalid configuration:/);
    expect(names(error, variable)).toBe(true);
    for (const other of VARIABLES) {
      if (other !== variable) expect(names(error, other)).toBe(false);
    }
  });

  it('names every wrong variable at once, and only those', () => {
    const error = configErrorOf({
      PORT: 'abc',
      DATABASE_URL: 'mysql://x',
      JWT_SECRET: 'short',
      LOG_LEVEL: 'loud',
      DATA_DIR: '/fine',
      MAX_TEXT_LENGTH: '200',
    });
    for (const wrong of ['PORT', 'DATABASE_URL', 'JWT_SECRET', 'LOG_LEVEL']) {
      expect(names(error, wrong)).toBe(true);
    }
    for (const right of ['DATA_DIR', 'MAX_TEXT_LENGTH', 'HOST']) {
      expect(names(error, right)).toBe(false);
    }
    expect(error.message.split('\n')).toHaveLength(5);
  });

  it('does not echo secrets into the message', () => {
    const error = configErrorOf({
      JWT_SECRET: 'hunter2-jwt',
      ADMIN_API_KEY: 'hunter2-admin',
      MASTER_KEY: 'hunter2-master',
      DATABASE_URL: 'mysql://root:hunter2-db@db/im',
    });
    expect(names(error, 'JWT_SECRET')).toBe(true);
    expect(names(error, 'ADMIN_API_KEY')).toBe(true);
    expect(names(error, 'MASTER_KEY')).toBe(true);
    expect(names(error, 'DATABASE_URL')).toBe(true);
    expect(error.message).not.toMatch(/hunter2/);
  });

  it('explains what a variable must be', () => {
    const error = configErrorOf({ JWT_SECRET: 'short', DATABASE_URL: 'mysql://x' });
    expect(error.message).toContain('JWT_SECRET: must be at least 32 characters');
    expect(error.message).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  });

  it('explains what a MASTER_KEY must be', () => {
    const error = configErrorOf({ MASTER_KEY: 'short' });
    expect(error.message).toContain('MASTER_KEY: must be base64 of exactly 32 bytes');
  });
});

describe('decodeMasterKey', () => {
  it('decodes base64 of 32 bytes, in either alphabet, padded or not', () => {
    // Given a key with bytes that spell differently in the two alphabets
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xf8 + (i % 8)));
    // When it is read from each spelling / Then each gives the same bytes
    for (const text of [
      key.toString('base64'),
      key.toString('base64').replace(/=$/, ''),
      key.toString('base64url'),
    ]) {
      expect(decodeMasterKey(text)).toEqual(key);
    }
  });

  it('refuses a spelling with stray bits or misplaced padding', () => {
    // The last character of 32 bytes carries 2 spare bits that must be zero.
    const text = Buffer.alloc(32).toString('base64'); // 'AAAA…AAA='
    expect(decodeMasterKey(text)).toEqual(Buffer.alloc(32));
    expect(decodeMasterKey(`${text.slice(0, 42)}B=`)).toBeNull();
    expect(decodeMasterKey(`${text.slice(0, 43)}==`)).toBeNull();
  });
});

describe('resolveSecrets with an external database', () => {
  const configured = {
    DATABASE_URL: 'postgres://db/im',
    JWT_SECRET: 'x'.repeat(32),
    ADMIN_API_KEY: 'k'.repeat(24),
    MASTER_KEY,
  };

  it('takes every secret from the configuration, the master key as its 32 bytes', () => {
    // Given every secret configured / When resolved
    const secrets = resolveSecrets(loadConfig(configured), false);
    // Then nothing is generated and the master key is decoded
    expect(secrets).toEqual({
      jwtSecret: configured.JWT_SECRET,
      adminApiKey: configured.ADMIN_API_KEY,
      masterKey: Buffer.alloc(32, 7),
      file: null,
    });
  });

  it('requires MASTER_KEY, naming it alone when it is the one missing', () => {
    // Given an external database and no MASTER_KEY
    const config = loadConfig({ ...configured, MASTER_KEY: '' });
    // When resolved / Then the start stops naming MASTER_KEY, and only it
    let error: unknown;
    try {
      resolveSecrets(config, false);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      'invalid configuration:\n  MASTER_KEY: required when DATABASE_URL is set',
    );
  });

  it('names every missing secret at once', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/im' });
    expect(() => resolveSecrets(config, false)).toThrow(
      /JWT_SECRET: required[^]*ADMIN_API_KEY: required[^]*MASTER_KEY: required/,
    );
  });
});
