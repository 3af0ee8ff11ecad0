import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient } from 'pg';

/**
 * Which copy of the read models the current request reads. Time travel (src/admin/replay) builds
 * the read models as they were at a point of the log into a schema of their own, `asof_<id>`; a
 * request with `?as_of=<id>` runs its handler inside {@link runInReadSchema}, and every query it
 * makes through the application's pool then finds the snapshot's tables (and views) first. Done
 * once here, under the pool, instead of in every query handler.
 */
const scope = new AsyncLocalStorage<{ readonly schema: string }>();

/** The schema the current async context reads, or null for the live read models. */
export function currentReadSchema(): string | null {
  return scope.getStore()?.schema ?? null;
}

/** Runs `fn` (and everything it starts) reading the read models of `schema`. */
export function runInReadSchema<T>(schema: string, fn: () => T): T {
  return scope.run({ schema }, fn);
}

type Release = PoolClient['release'];

/**
 * Makes `pool` honour {@link runInReadSchema}: inside it, `pool.query` and the clients of
 * `pool.connect` run on a connection whose `search_path` is `<schema>, public` (the snapshot's
 * tables, then the live database for everything that is not a read model: keys, the event log).
 * The connection's search path is reset before it goes back to the pool; one that cannot be reset
 * is closed instead, so a live request never reads a snapshot. Outside a scope nothing changes
 * but one lookup per call. Only the promise forms are scoped (the application uses no other).
 */
export function withReadSchemas(pool: Pool): Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<PoolClient>;

  async function scopedClient(schema: string): Promise<PoolClient> {
    const client = await connect();
    try {
      await client.query(`SELECT set_config('search_path', $1, false)`, [
        `"${schema.replace(/"/g, '""')}", public`,
      ]);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
    const release: Release = client.release.bind(client);
    client.release = (err?: Error | boolean) => {
      if (err) return release(err);
      client.query('RESET search_path').then(
        () => release(),
        (e: Error) => release(e),
      );
    };
    return client;
  }

  pool.connect = ((...args: unknown[]) => {
    const schema = currentReadSchema();
    if (schema === null || typeof args[0] === 'function') return connect(...args);
    return scopedClient(schema);
  }) as Pool['connect'];

  pool.query = ((...args: unknown[]) => {
    const schema = currentReadSchema();
    if (schema === null || typeof args[args.length - 1] === 'function') return query(...args);
    return (async () => {
      const client = await scopedClient(schema);
      let failed: Error | undefined;
      try {
        return await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
      } catch (err) {
        // A statement PostgreSQL refused leaves the connection usable; anything else drops it.
        const refused = typeof (err as { severity?: unknown }).severity === 'string';
        failed = refused ? undefined : (err as Error);
        throw err;
      } finally {
        client.release(failed);
      }
    })();
  }) as Pool['query'];

  return pool;
}
