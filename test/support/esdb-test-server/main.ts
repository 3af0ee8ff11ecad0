/**
 * Runs the EventStoreDB test server on its own for manual use:
 *
 *   npx ts-node --transpile-only test/support/esdb-test-server/main.ts [port]
 *
 * Prints the connection string, appends a $statsCollected every 30 s as a real node does, and
 * stops on SIGINT or SIGTERM. The data lives only as long as the process.
 */
import { startEsdbTestServer } from './index';

async function main(): Promise<void> {
  const port = Number(process.argv[2] ?? process.env.ESDB_TEST_SERVER_PORT ?? 2113);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`'${process.argv[2]}' is not a port`);
  }
  const server = await startEsdbTestServer({ port, systemEventIntervalMs: 30_000 });
  process.stdout.write(`${server.connectionString}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
