import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppConfig } from './app-config';
import { ConfigError } from './app-config';

export interface Secrets {
  readonly jwtSecret: string;
  readonly adminApiKey: string;
  /** Where generated secrets are kept, when any was generated. */
  readonly file: string | null;
}

interface StoredSecrets {
  jwtSecret?: string;
  adminApiKey?: string;
}

/**
 * JWT_SECRET and ADMIN_API_KEY from the configuration; in embedded mode, the missing ones are
 * generated on first start and kept (mode 0600) under DATA_DIR so tokens survive restarts. With an
 * external database both must be configured: a cluster's nodes must share them.
 */
export function resolveSecrets(config: AppConfig, embedded: boolean): Secrets {
  if (config.JWT_SECRET && config.ADMIN_API_KEY) {
    return { jwtSecret: config.JWT_SECRET, adminApiKey: config.ADMIN_API_KEY, file: null };
  }
  if (!embedded) {
    const missing = ['JWT_SECRET', 'ADMIN_API_KEY'].filter((k) => !config[k as keyof AppConfig]);
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
  };
  if (next.jwtSecret !== stored.jwtSecret || next.adminApiKey !== stored.adminApiKey) {
    writeFileSync(file, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
  }
  return {
    jwtSecret: config.JWT_SECRET ?? next.jwtSecret!,
    adminApiKey: config.ADMIN_API_KEY ?? next.adminApiKey!,
    file,
  };
}
