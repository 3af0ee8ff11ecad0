import { randomUUID } from 'node:crypto';
import { describeEventStoreContract, ev } from '../../../test/event-store.contract';
import { EsdbTestServer, startEsdbTestServer } from '../../../test/support/esdb-test-server';
import { waitFor } from '../../../test/support/wait-for';
import { EventStoreUnavailableError, RecordedEvent } from '../event-store.port';
import { connectEventStoreDb } from './connect';
import { EventStoreDbEventStore } from './eventstoredb-event-store';

// The whole contract, over real gRPC, against the protocol-level test server: a fresh server
// (an empty log) for each test.
describeEventStoreContract('EventStoreDB adapter against the gRPC test server', async () => {
  const server = await startEsdbTestServer({ systemEventIntervalMs: 20 });
  const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
  const others: EventStoreDbEventStore[] = [];
  return {
    store,
    refusesEventIdsOfOtherStreams: false,
    another: async () => {
      const other = EventStoreDbEventStore.fromConnectionString(server.connectionString);
      others.push(other);
      return other;
    },
    cleanup: async () => {
      for (const o of others) await o.close();
      await store.close();
      await server.close();
    },
  };
});

// The same contract against a live EventStoreDB when one is configured (docs/eventstoredb.md).
const live = process.env.EVENTSTORE_CONNECTION_STRING;
if (live) {
  describeEventStoreContract(`EventStoreDB adapter against ${live}`, async () => {
    const store = EventStoreDbEventStore.fromConnectionString(live);
    const others: EventStoreDbEventStore[] = [];
    return {
      store,
      refusesEventIdsOfOtherStreams: false,
      another: async () => {
        const other = EventStoreDbEventStore.fromConnectionString(live);
        others.push(other);
        return other;
      },
      cleanup: async () => {
        for (const o of others) await o.close();
        await store.close();
      },
    };
  });
} else {
  console.info(
    'event store contract against a live EventStoreDB not run: EVENTSTORE_CONNECTION_STRING ' +
      'is not set (docker compose -f docker/docker-compose.yml up -d eventstore, then ' +
      'EVENTSTORE_CONNECTION_STRING=esdb://localhost:2113?tls=false npm test)',
  );
}

const quiet = { warn: () => undefined, info: () => undefined };

describe('EventStoreDB adapter: faults', () => {
  let server: EsdbTestServer;
  let store: EventStoreDbEventStore;

  beforeEach(async () => {
    server = await startEsdbTestServer();
    store = EventStoreDbEventStore.fromConnectionString(server.connectionString, {
      resubscribeMinMs: 20,
      resubscribeMaxMs: 200,
      logger: quiet,
    });
  });
  afterEach(async () => {
    await store.close();
    await server.close();
  });

  it('leaves out the server’s own events everywhere: reads, head, counts and subscriptions', async () => {
    const s = `thing-${randomUUID()}`;
    await store.append(s, [ev('A')], 'no_stream');
    const ownEvents = server.eventCount();
    await store.append(s, [ev('B')], 0);
    expect(ownEvents).toBeGreaterThan(1); // the server put some of its own in the log
    const all = await store.readAll({ limit: 100 });
    expect(all.map((e) => e.type)).toEqual(['A', 'B']);
    expect((await store.headPosition())!).toEqual(all[1].position);
    expect(await store.countAfter(all[0].position)).toBe(1);
  });

  it('waits at start for a server that is not up yet, logging each try, then connects', async () => {
    await server.goDown();
    const warnings: string[] = [];
    const connecting = connectEventStoreDb(server.connectionString, {
      minDelayMs: 20,
      maxDelayMs: 50,
      logger: { info: () => undefined, warn: (_obj, msg) => warnings.push(msg) },
    });
    await waitFor(() => warnings.length >= 2, 'two failed tries logged');
    expect(warnings[0]).toMatch(/unreachable; retrying in/);
    await server.comeBack();
    const connected = await connecting;
    try {
      await expect(connected.append(`t-${randomUUID()}`, [ev()], 'no_stream')).resolves.toEqual(
        expect.objectContaining({ alreadyWritten: false }),
      );
    } finally {
      await connected.close();
    }
  });

  it('waits for a cluster whose nodes cannot be discovered, instead of giving up', async () => {
    const warnings: string[] = [];
    const controller = new AbortController();
    const connecting = connectEventStoreDb(
      'esdb://127.0.0.1:1,127.0.0.1:2?tls=false&maxDiscoverAttempts=1&discoveryInterval=10',
      {
        signal: controller.signal,
        minDelayMs: 10,
        maxDelayMs: 20,
        logger: { info: () => undefined, warn: (_obj, msg) => warnings.push(msg) },
      },
    );
    await waitFor(() => warnings.length >= 2, 'two failed discoveries logged');
    expect(warnings[0]).toMatch(/unreachable; retrying in/);
    controller.abort(new Error('stopped'));
    await expect(connecting).rejects.toThrow('stopped');
  });

  it('gives up waiting at start when the signal aborts', async () => {
    await server.goDown();
    const controller = new AbortController();
    const connecting = connectEventStoreDb(server.connectionString, {
      signal: controller.signal,
      minDelayMs: 20,
      logger: quiet,
    });
    controller.abort(new Error('stopped'));
    await expect(connecting).rejects.toThrow('stopped');
  });

  it('fails commands with EventStoreUnavailableError while the server is down, and works again when it returns', async () => {
    const s = `thing-${randomUUID()}`;
    await store.append(s, [ev()], 'no_stream');
    await server.goDown();
    await expect(store.append(s, [ev()], 0)).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.readStream(s)).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.headPosition()).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await server.comeBack();
    // One event, tried until the server answers: a try whose answer was lost is repeated as such.
    const next = ev();
    await waitFor(
      () =>
        store.append(s, [next], 0).then(
          () => true,
          (err: unknown) => {
            if (err instanceof EventStoreUnavailableError) return false;
            throw err;
          },
        ),
      'an append after the server returned',
    );
    expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1]);
  });

  it('resumes a subscription after the connection drops: every event once, in order', async () => {
    const s = `thing-${randomUUID()}`;
    const received: RecordedEvent[] = [];
    const controller = new AbortController();
    const following = (async () => {
      for await (const batch of store.subscribeAll({ signal: controller.signal })) {
        received.push(...batch);
      }
    })();
    await store.append(s, [ev(), ev()], 'no_stream');
    await waitFor(() => received.length === 2, 'the first events');
    await server.goDown();
    await server.comeBack();
    // Written while the subscription is (re)connecting, and after.
    for (let i = 2; i < 12; i++) await appendWhenUp(store, s, i - 1);
    await waitFor(() => received.length === 12, 'every event after the drop');
    controller.abort();
    await following;
    expect(received.map((e) => e.revision)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(new Set(received.map((e) => e.id)).size).toBe(12);
  });
});

/** Appends one event at `expected`, retrying while the server is still coming back. */
async function appendWhenUp(
  store: EventStoreDbEventStore,
  s: string,
  expected: number,
): Promise<void> {
  const event = ev();
  await waitFor(
    () =>
      store.append(s, [event], expected).then(
        () => true,
        (err: unknown) => {
          if (err instanceof EventStoreUnavailableError) return false;
          throw err;
        },
      ),
    `append at ${expected}`,
  );
}
