import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppConfig } from './app-config';
import { ConfigError, decodeMasterKey } from './app-config';

export interface Secrets {
  readonly jwtSecret: string;
  readonly adminApiKey: string;
  /** The 32-byte key that wraps every user's data key (src/crypto/key-ring.ts). */
  readonly masterKey: Buffer;
  /** Where generated secrets are kept, when any was generated. */
  readonly file: string | null;
}

interface StoredSecrets {
  jwtSecret?: string;
  adminApiKey?: string;
  /** Base64. */
  masterKey?: string;
}

const CONFIGURED = ['JWT_SECRET', 'ADMIN_API_KEY', 'MASTER_KEY'] as const;

/**
 * JWT_SECRET, ADMIN_API_KEY and MASTER_KEY from the configuration; in embedded mode, the missing
 * ones are generated on first start and kept (mode 0600) under DATA_DIR so tokens and encrypted
 * content survive restarts. With an external database all must be configured: a cluster's nodes
 * must share them.
 */
export function resolveSecrets(config: AppConfig, embedded: boolean): Secrets {
  if (config.JWT_SECRET && config.ADMIN_API_KEY && config.MASTER_KEY) {
    return {
      jwtSecret: config.JWT_SECRET,
      adminApiKey: config.ADMIN_API_KEY,
      masterKey: masterKeyOf(config.MASTER_KEY, 'MASTER_KEY'),
      file: null,
    };
  }
  if (!embedded) {
    const missing = CONFIGURED.filter((k) => !config[k]);
    throw new ConfigError(
      `invalid configuration:\n${missing.map((k) => `  ${k}: required when DATABASE_URL is set`).join('\n')}`,
    );
  }
  const dir = resolve(config.DATA_DIR);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'secrets.json');
  const stored: StoredSecrets = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as StoredSecrets)
    : {};
  const next: StoredSecrets = {
    jwtSecret: stored.jwtSecret ?? randomBytes(48).toString('base64url'),
    adminApiKey: stored.adminApiKey ?? randomBytes(32).toString('base64url'),
    masterKey: stored.masterKey ?? randomBytes(32).toString('base64'),
  };
  // A stored master key that does not decode stops the start: generating a new one would make
  // every stored data key unreadable.
  const storedMasterKey = masterKeyOf(next.masterKey!, `${file}: masterKey`);
  if (
    next.jwtSecret !== stored.jwtSecret ||
    next.adminApiKey !== stored.adminApiKey ||
    next.masterKey !== stored.masterKey
  ) {
    writeFileSync(file, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  }
  return {
    jwtSecret: config.JWT_SECRET ?? next.jwtSecret!,
    adminApiKey: config.ADMIN_API_KEY ?? next.adminApiKey!,
    masterKey: config.MASTER_KEY ? masterKeyOf(config.MASTER_KEY, 'MASTER_KEY') : storedMasterKey,
    file,
  };
}

function masterKeyOf(text: string, where: string): Buffer {
  const key = decodeMasterKey(text);
  if (!key) {
    throw new ConfigError(`invalid configuration:\n  ${where}: must be base64 of exactly 32 bytes`);
  }
  return key;
}
