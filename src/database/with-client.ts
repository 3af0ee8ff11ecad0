import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` inside a transaction on a client of its own. While a client is checked out the pool
 * does not listen for its errors: a connection the server cuts mid-transaction (a restart, a
 * failover, pg_terminate_backend) would raise an unhandled 'error' and end the process. Here it
 * fails the transaction instead, and the broken client is destroyed rather than reused.
 * `begin`: statements without parameters to run first, sent with the BEGIN.
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  begin?: string,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    // `begin`'s statements (no parameters) travel with BEGIN: one round trip for both.
    await client.query(begin ? `BEGIN; ${begin}` : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    if (!broken) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
