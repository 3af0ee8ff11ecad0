/**
 * A protocol-level EventStoreDB test server: a @grpc/grpc-js server speaking EventStoreDB's gRPC
 * wire protocol with the service definitions and messages generated inside @eventstore/db-client,
 * so the real `EventStoreDBClient` (esdb://127.0.0.1:<port>?tls=false) runs against it unchanged.
 * It follows the behaviour of EventStoreDB 23.10–24.10 (src/EventStore.Core/Services/Transport/
 * Grpc and .../Storage in EventStore/EventStore).
 *
 * What it models
 * - One in-memory log for one node. Positions are byte-like log offsets (each record takes a
 *   size computed from a v2 prepare record: header + stream name + type + data + metadata), the
 *   first event is not at 0, and an event's commit position equals its prepare position.
 * - Streams with 0-based revisions; appends with expected revision any, no_stream,
 *   stream_exists (a stream with only a `$$` metadata stream counts as existing) or an exact
 *   revision; a wrong one is answered with `AppendResp.wrong_expected_version` (current revision
 *   or current_no_stream, and the expected case), or on BatchAppend an ALREADY_EXISTS status
 *   with packed `WrongExpectedVersion` details.
 * - Idempotence as `IndexWriter.CheckCommit`: for an exact revision or no_stream, an append whose
 *   event ids equal the events after the expected revision writes nothing and answers with the
 *   original write's last revision and position; for any/stream_exists, the same if every id was
 *   first written to this stream (a write whose first id is new is a new write; one whose later
 *   ids are new is answered as a wrong expected version). Event ids are not unique across
 *   streams.
 * - The success of a write carries the last event's revision and position; an empty write
 *   succeeds with the current revision.
 * - Appends over `maxAppendBytes` (default 1 MiB, counted as data + metadata + 2 × type length)
 *   fail with INVALID_ARGUMENT `maximum-append-size-exceeded` (Append) or a
 *   MaximumAppendSizeExceeded status (BatchAppend); a proposed message without `type` or
 *   `content-type` fails with `missing-required-metadata-property`.
 * - Recorded events carry metadata `type`, `content-type` (application/json or
 *   application/octet-stream, from the stored is-json flag), `created` (.NET ticks since the Unix
 *   epoch), data and custom metadata byte for byte, and ids in the requested UUID format
 *   (string or structured).
 * - Reads of a stream forwards/backwards from start, end or a revision with a max count; a stream
 *   without events answers `stream_not_found`. Reads of $all forwards (from a position inclusive)
 *   and backwards (exclusive) from start, end or a position, with commit positions; an optional
 *   $all read filter is honoured. System events are part of $all.
 * - Subscriptions to $all and to a stream from start, end or a position/revision (exclusive):
 *   `confirmation`, catch-up events, `caught_up`, live events in log order; a live feed of 32
 *   entries that drops the oldest, after which `fell_behind` is sent and the subscription catches
 *   up again (here one write of more than 32 events a live subscription takes always does
 *   that); $all filters on stream name or event type by prefixes or regex with `checkpoint`s
 *   every `maxSearchWindow (default 32) × checkpointIntervalMultiplier` considered events during
 *   catch-up, at the end of catch-up, and every as many events written when live. Client
 *   cancellation, deadlines and lost connections end the server side of a call.
 * - A few system events at startup ($epoch-information on $epochs, $metadata on $$$scavenges
 *   and $$$stats-<endpoint>, $statsCollected on $stats-<endpoint>) and, with
 *   `systemEventIntervalMs`, a $statsCollected every interval.
 * - ServerFeatures.GetSupportedMethods listing what is implemented (Streams read, append,
 *   batchappend unless `advertiseBatchAppend: false`; Gossip read; ServerFeatures), and a
 *   one-member Gossip.Read.
 * - `goDown()`: the public port stops accepting and every connection is reset (calls in flight
 *   fail with UNAVAILABLE); `comeBack()` listens again on the same port with the same data.
 *   Meanwhile the node itself runs on (periodic system events are still written).
 *
 * What it does not model
 * - Persistence, clusters (no elections, followers, not-leader redirects), TLS, users,
 *   authentication and ACLs (credentials are ignored), persistent subscriptions, projections
 *   (no $ce-/$et- streams, no link events; resolveLinkTos has no effect), Operations, Users and
 *   Monitoring services.
 * - Deletes and tombstones (Delete/Tombstone answer UNIMPLEMENTED), stream metadata semantics
 *   ($maxAge, $maxCount, $tb are stored as ordinary `$metadata` events but not applied),
 *   scavenging, and the per-event maximum size of newer servers.
 * - Timeouts of the storage writer (only BatchAppend's 2 s write timeout and the request deadline
 *   are honoured), "server not ready/too busy", and the validation of $all positions
 *   (a position between records is accepted).
 * - The memory bound of EventStoreDB's event-id cache (idempotence for any/stream_exists never
 *   expires here) and the deprecated 20.6.0 `expected_revision = ulong.MaxValue` for no_stream.
 * - Read extras newer servers send only on request (`control_option`: `first_stream_position`,
 *   `last_stream_position`, `last_all_stream_position`); the `max` search window of filtered
 *   $all reads (outside subscriptions) does not cut a read short.
 * - Headers: `requires-leader` and `connection-name` are ignored (the node is always leader).
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { GossipService } from '@eventstore/db-client/generated/gossip_grpc_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { EventLog } from './event-log';
import { gossipService, serverFeaturesService } from './node-services';
import { streamsService } from './streams-service';
import { writeStartupEvents, writeStatsCollected } from './system-events';
import { TcpGate } from './tcp-gate';

export interface EsdbTestServer {
  readonly port: number;
  /** `esdb://127.0.0.1:${port}?tls=false` */
  readonly connectionString: string;
  /** Stops accepting and drops every connection abruptly (calls in flight fail with UNAVAILABLE), keeping the data. */
  goDown(): Promise<void>;
  /** Listens again on the same port with the same data. */
  /** (A no-op while it is up.) */
  comeBack(): Promise<void>;
  /** Number of events in the log (incl. system events), for tests. */
  eventCount(): number;
  close(): Promise<void>;
}

export interface EsdbTestServerOptions {
  /** Public port; 0 or absent picks a free one. */
  readonly port?: number;
  /** Maximum size of one append (EventStoreDB's MaxAppendSize); default 1 MiB. */
  readonly maxAppendBytes?: number;
  /** When set, a `$statsCollected` system event is appended every this many milliseconds. */
  readonly systemEventIntervalMs?: number;
  /**
   * Whether ServerFeatures lists BatchAppend (default true, as real servers do). The Node client
   * appends through BatchAppend when it is listed and through Append otherwise.
   */
  readonly advertiseBatchAppend?: boolean;
}

const DEFAULT_MAX_APPEND_BYTES = 1024 * 1024;
// EventStoreDB's default WriteTimeoutMs, which bounds a BatchAppend write.
const WRITE_TIMEOUT_MS = 2_000;

export async function startEsdbTestServer(
  options: EsdbTestServerOptions = {},
): Promise<EsdbTestServer> {
  const log = new EventLog();
  let publicPort = 0;
  const grpcServer = new Server();
  grpcServer.addService(
    StreamsService,
    streamsService(log, {
      maxAppendBytes: options.maxAppendBytes ?? DEFAULT_MAX_APPEND_BYTES,
      writeTimeoutMs: WRITE_TIMEOUT_MS,
    }),
  );
  grpcServer.addService(
    ServerFeaturesService,
    serverFeaturesService(options.advertiseBatchAppend ?? true),
  );
  grpcServer.addService(
    GossipService,
    gossipService(() => ({ host: '127.0.0.1', port: publicPort })),
  );
  const upstreamPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    ),
  );

  const gate = new TcpGate(upstreamPort);
  try {
    publicPort = await gate.open(options.port ?? 0);
  } catch (error) {
    grpcServer.forceShutdown();
    throw error;
  }
  const endpoint = `127.0.0.1:${publicPort}`;
  const startedAt = new Date();
  writeStartupEvents(log, endpoint, startedAt);
  const statsTimer =
    options.systemEventIntervalMs === undefined
      ? undefined
      : setInterval(
          () => writeStatsCollected(log, endpoint, startedAt),
          options.systemEventIntervalMs,
        ).unref();

  let closed = false;
  return {
    port: publicPort,
    connectionString: `esdb://${endpoint}?tls=false`,
    goDown: () => gate.shut(),
    comeBack: async () => {
      if (closed) throw new Error('the test server is closed');
      if (!gate.isOpen) await gate.open(publicPort);
    },
    eventCount: () => log.size,
    close: async () => {
      closed = true;
      if (statsTimer) clearInterval(statsTimer);
      await gate.shut();
      grpcServer.forceShutdown();
    },
  };
}
