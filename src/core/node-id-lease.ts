import { Logger } from '@nestjs/common';
import { Client, ClientConfig } from 'pg';

/** Advisory-lock class of node ids (any constant; the id is the lock's second key). */
const NODE_ID_LOCK_CLASS = 7_263_002;
export const NODE_IDS = 1024;

/**
 * A node id (0..1023) held for as long as this process lives, as a session advisory lock on a
 * connection of its own: two live nodes never hold the same id, so their message keys never
 * collide. The `node_ids` sequence spreads the starting points.
 */
export class NodeIdLease {
  private constructor(
    private readonly client: Client,
    readonly nodeId: number,
  ) {}

  static async acquire(config: ClientConfig): Promise<NodeIdLease> {
    const client = new Client(config);
    const logger = new Logger('node-id');
    client.on('error', (err) => {
      // The lease ends with its connection. Keys made from here on could collide with a node
      // that takes this id, so this process must not go on minting them.
      logger.error(`lost the node-id lease connection (${err.message}); exiting`);
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    });
    await client.connect();
    const { rows } = await client.query<{ start: string }>(
      `SELECT (nextval('node_ids') % ${NODE_IDS})::text AS start`,
    );
    const start = Number(rows[0].start);
    for (let i = 0; i < NODE_IDS; i++) {
      const id = (start + i) % NODE_IDS;
      const lock = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS ok',
        [NODE_ID_LOCK_CLASS, id],
      );
      if (lock.rows[0].ok) return new NodeIdLease(client, id);
    }
    await client.end();
    throw new Error(`all ${NODE_IDS} node ids are held by live nodes`);
  }

  async release(): Promise<void> {
    this.client.removeAllListeners('error');
    this.client.on('error', () => undefined);
    await this.client.end().catch(() => undefined);
  }
}
