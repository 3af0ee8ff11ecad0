import { rmSync } from 'node:fs';
import type { RunningPostgres } from '../../src/database/embedded-postgres';
import { readTestEnv } from './test-env';

export default async function globalTeardown(): Promise<void> {
  const pg = (globalThis as Record<string, unknown>).__IM_TEST_PG__ as RunningPostgres | undefined;
  const { root } = readTestEnv();
  await pg?.stop();
  rmSync(root, { recursive: true, force: true });
}
