import { randomUUID } from 'node:crypto';
import { credentials, status, type ClientReadableStream } from '@grpc/grpc-js';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  MaxAppendSizeExceededError,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type EventData,
  type Position,
  type ResolvedEvent,
  type StreamSubscription,
} from '@eventstore/db-client';
import { Empty, StreamIdentifier } from '@eventstore/db-client/generated/shared_pb';
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { ReadReq, type ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { waitFor } from '../wait-for';
import { startEsdbTestServer, type EsdbTestServer, type EsdbTestServerOptions } from './index';

const BOUND_MS = 1_500;
const until = (condition: () => boolean, what: string) => waitFor(condition, what, BOUND_MS, 5);

const stream = (category = 'thing') => `${category}-${randomUUID()}`;
const event = (type = 'Happened', data: Record<string, unknown> = {}): EventData =>
  jsonEvent({ type, data: { n: Math.random(), ...data } });

async function collect<T>(read: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of read) items.push(item);
  return items;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

const isSystem = (e: AllStreamResolvedEvent) => e.event!.type.startsWith('$');

/** What a subscription delivered: events, checkpoints and signals, in arrival order. */
interface Recording<E> {
  readonly events: E[];
  readonly checkpoints: Position[];
  readonly signals: string[];
  readonly errors: Error[];
}

function record<E>(
  subscription: AllStreamSubscription | StreamSubscription,
  checkpoints: Position[] = [],
): Recording<E> {
  const recording: Recording<E> = { events: [], checkpoints, signals: [], errors: [] };
  subscription.on('data', (e) => recording.events.push(e as E));
  subscription.on('confirmation', () => recording.signals.push('confirmation'));
  subscription.on('caughtUp', () => recording.signals.push('caughtUp'));
  subscription.on('fellBehind', () => recording.signals.push('fellBehind'));
  subscription.on('error', (error) => recording.errors.push(error));
  return recording;
}

function startServer(options: EsdbTestServerOptions = {}) {
  const context: { server: EsdbTestServer; client: EventStoreDBClient } = {} as never;
  beforeEach(async () => {
    context.server = await startEsdbTestServer(options);
    context.client = EventStoreDBClient.connectionString(context.server.connectionString);
  });
  afterEach(async () => {
    await context.client.dispose();
    await context.server.close();
  });
  return context;
}

describe.each([
  ['BatchAppend', true],
  ['Append', false],
])('appending through %s', (_path, advertiseBatchAppend) => {
  const ctx = startServer({ advertiseBatchAppend });

  it('appends with no_stream, an exact revision, stream_exists and any, and reads the events back', async () => {
    const s = stream();
    const first = await ctx.client.appendToStream(s, [event('A'), event('B')], {
      expectedRevision: NO_STREAM,
    });
    const second = await ctx.client.appendToStream(s, event('C'), { expectedRevision: 1n });
    const third = await ctx.client.appendToStream(s, event('D'), {
      expectedRevision: STREAM_EXISTS,
    });
    const fourth = await ctx.client.appendToStream(s, event('E'), { expectedRevision: ANY });

    expect([first, second, third, fourth].map((r) => r.nextExpectedRevision)).toEqual([
      1n,
      2n,
      3n,
      4n,
    ]);
    const read = await collect(ctx.client.readStream(s));
    expect(read.map((e) => e.event!.type)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(read.map((e) => e.event!.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
    // A write answers with its last event's position.
    expect(read[1].event!.position).toEqual(first.position);
    expect(read[4].event!.position).toEqual(fourth.position);
  });

  it('rejects a wrong expected revision, naming the current and the expected one', async () => {
    const s = stream();
    await ctx.client.appendToStream(s, [event(), event()], { expectedRevision: NO_STREAM });

    const onExisting = await failure(
      ctx.client.appendToStream(s, event(), { expectedRevision: NO_STREAM }),
    );
    const tooFar = await failure(ctx.client.appendToStream(s, event(), { expectedRevision: 5n }));
    const missing = stream();
    const notThere = await failure(
      ctx.client.appendToStream(missing, event(), { expectedRevision: STREAM_EXISTS }),
    );
    const exactOnMissing = await failure(
      ctx.client.appendToStream(missing, event(), { expectedRevision: 0n }),
    );

    expect(onExisting).toBeInstanceOf(WrongExpectedVersionError);
    expect(onExisting).toMatchObject({
      streamName: s,
      expectedVersion: 'no_stream',
      actualVersion: 1n,
    });
    expect(tooFar).toMatchObject({ streamName: s, expectedVersion: 5n, actualVersion: 1n });
    expect(notThere).toMatchObject({
      expectedVersion: 'stream_exists',
      actualVersion: 'no_stream',
    });
    expect(exactOnMissing).toMatchObject({ expectedVersion: 0n, actualVersion: 'no_stream' });
    expect((await collect(ctx.client.readStream(s))).length).toBe(2);
  });

  it('answers a retried append from the original write without writing again', async () => {
    const s = stream();
    const batch = [event('A'), event('B')];
    const original = await ctx.client.appendToStream(s, batch, { expectedRevision: NO_STREAM });
    const next = event('C');
    const afterwards = await ctx.client.appendToStream(s, next, { expectedRevision: 1n });
    const countBefore = ctx.server.eventCount();

    const retriedNoStream = await ctx.client.appendToStream(s, batch, {
      expectedRevision: NO_STREAM,
    });
    const retriedExact = await ctx.client.appendToStream(s, next, { expectedRevision: 1n });
    const retriedAny = await ctx.client.appendToStream(s, batch, { expectedRevision: ANY });

    expect(retriedNoStream).toMatchObject({
      nextExpectedRevision: 1n,
      position: original.position,
    });
    expect(retriedExact).toMatchObject({ nextExpectedRevision: 2n, position: afterwards.position });
    expect(retriedAny).toMatchObject({ nextExpectedRevision: 1n, position: original.position });
    expect(ctx.server.eventCount()).toBe(countBefore);
    // Only part of the write matches: not idempotent, a wrong expected version.
    const partly = await failure(
      ctx.client.appendToStream(s, [batch[0], event()], { expectedRevision: NO_STREAM }),
    );
    expect(partly).toMatchObject({ expectedVersion: 'no_stream', actualVersion: 2n });
  });

  it('accepts an event id already written to another stream', async () => {
    const shared = event();
    await ctx.client.appendToStream(stream(), shared, { expectedRevision: NO_STREAM });
    const other = stream();
    await ctx.client.appendToStream(other, shared, { expectedRevision: NO_STREAM });
    expect((await collect(ctx.client.readStream(other))).map((e) => e.event!.id)).toEqual([
      shared.id,
    ]);
  });

  it('refuses an append over the maximum append size with MaxAppendSizeExceededError', async () => {
    const small = await startEsdbTestServer({ advertiseBatchAppend, maxAppendBytes: 4096 });
    const client = EventStoreDBClient.connectionString(small.connectionString);
    try {
      const big = binaryEvent({ type: 'Big', data: new Uint8Array(5000) });
      const error = await failure(client.appendToStream(stream(), big));
      expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
      expect(error).toMatchObject({ maxAppendSize: 4096 });
      // Data + metadata + 2 × type length up to the limit is fine.
      const fits = binaryEvent({ type: 'Fit', data: new Uint8Array(4096 - 6) });
      await expect(client.appendToStream(stream(), fits)).resolves.toMatchObject({ success: true });
    } finally {
      await client.dispose();
      await small.close();
    }
  });
});

describe('reading', () => {
  const ctx = startServer();

  it('reads a stream forwards and backwards from start, end and a revision, with a max count', async () => {
    const s = stream();
    await ctx.client.appendToStream(
      s,
      ['A', 'B', 'C', 'D'].map((t) => event(t)),
    );
    const types = async (options: Parameters<EventStoreDBClient['readStream']>[1]) =>
      (await collect(ctx.client.readStream(s, options))).map((e) => e.event!.type);

    expect(await types({ fromRevision: 2n })).toEqual(['C', 'D']);
    expect(await types({ fromRevision: START, maxCount: 2 })).toEqual(['A', 'B']);
    expect(await types({ fromRevision: END })).toEqual([]);
    expect(await types({ direction: BACKWARDS, fromRevision: END })).toEqual(['D', 'C', 'B', 'A']);
    expect(await types({ direction: BACKWARDS, fromRevision: 1n })).toEqual(['B', 'A']);
    expect(await types({ direction: BACKWARDS, fromRevision: 99n, maxCount: 1 })).toEqual(['D']);
    expect(await types({ direction: BACKWARDS, fromRevision: START })).toEqual(['A']);
  });

  it('answers a read of a stream without events with StreamNotFoundError', async () => {
    const s = stream();
    const error = await failure(collect(ctx.client.readStream(s)));
    expect(error).toBeInstanceOf(StreamNotFoundError);
    expect(error).toMatchObject({ streamName: s });
  });

  it('keeps data, metadata, content type, creation time and ids as appended', async () => {
    const s = stream();
    const before = Date.now();
    const json = jsonEvent({
      type: 'Json',
      data: { a: [1, 'two'] },
      metadata: { correlationId: 'c1' },
    });
    const binary = binaryEvent({
      type: 'Binary',
      data: Uint8Array.from([0, 255, 7]),
      metadata: Uint8Array.from([9, 8]),
    });
    await ctx.client.appendToStream(s, [json, binary]);

    const [readJson, readBinary] = (await collect(ctx.client.readStream(s))).map((e) => e.event!);
    expect(readJson).toMatchObject({
      id: json.id,
      type: 'Json',
      isJson: true,
      data: { a: [1, 'two'] },
      metadata: { correlationId: 'c1' },
    });
    expect(readBinary).toMatchObject({ id: binary.id, type: 'Binary', isJson: false, streamId: s });
    expect(Array.from(readBinary.data as Uint8Array)).toEqual([0, 255, 7]);
    expect(Array.from(readBinary.metadata as Uint8Array)).toEqual([9, 8]);
    expect(readJson.created.getTime()).toBeGreaterThanOrEqual(before);
    expect(readJson.created.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('reads $all from the start: system events first, then positions that grow by record size, commit equal to prepare', async () => {
    const s = stream();
    const written = await ctx.client.appendToStream(s, [event('A'), event('B')]);
    const all = await collect(ctx.client.readAll());

    expect(all.length).toBe(ctx.server.eventCount());
    expect(isSystem(all[0])).toBe(true);
    expect(all.map((e) => e.event!.streamId)).toContain('$epochs');
    const positions = all.map((e) => e.event!.position);
    for (const [i, p] of positions.entries()) {
      expect(p.commit).toBe(p.prepare);
      expect(all[i].commitPosition).toBe(p.commit);
      if (i > 0) expect(p.commit - positions[i - 1].commit).toBeGreaterThan(90n);
    }
    expect(positions[0].commit).toBeGreaterThan(0n);
    expect(all[all.length - 1].event!.position).toEqual(written.position);
  });

  it('reads $all forwards from a position inclusive, backwards exclusive, with a max count', async () => {
    const s = stream();
    await ctx.client.appendToStream(
      s,
      ['A', 'B', 'C'].map((t) => event(t)),
    );
    const ours = (events: AllStreamResolvedEvent[]) =>
      events.filter((e) => e.event!.streamId === s).map((e) => e.event!.type);
    const [b] = (await collect(ctx.client.readAll())).filter((e) => e.event!.type === 'B');

    expect(ours(await collect(ctx.client.readAll({ fromPosition: b.event!.position })))).toEqual([
      'B',
      'C',
    ]);
    expect(
      ours(
        await collect(
          ctx.client.readAll({ fromPosition: b.event!.position, direction: BACKWARDS }),
        ),
      ),
    ).toEqual(['A']);
    expect(
      ours(
        await collect(ctx.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 2 })),
      ),
    ).toEqual(['C', 'B']);
    expect(await collect(ctx.client.readAll({ fromPosition: END }))).toEqual([]);
    expect(
      await collect(ctx.client.readAll({ fromPosition: START, direction: BACKWARDS })),
    ).toEqual([]);
    expect((await collect(ctx.client.readAll({ maxCount: 1 }))).length).toBe(1);
  });
});

describe('subscribing', () => {
  const ctx = startServer({ systemEventIntervalMs: 20 });

  it('subscribes to $all: confirmation, catch-up, caughtUp, then live events in order, system events included', async () => {
    const s = stream();
    await ctx.client.appendToStream(s, event('Before'));
    const recording = record<AllStreamResolvedEvent>(
      ctx.client.subscribeToAll({ fromPosition: START }),
    );
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    await ctx.client.appendToStream(s, [event('Live1'), event('Live2')]);

    await until(() => recording.events.some((e) => e.event!.type === 'Live2'), 'the live events');
    expect(recording.signals.slice(0, 2)).toEqual(['confirmation', 'caughtUp']);
    expect(
      recording.events.filter((e) => e.event!.streamId === s).map((e) => e.event!.type),
    ).toEqual(['Before', 'Live1', 'Live2']);
    expect(recording.events.some(isSystem)).toBe(true);
    const commits = recording.events.map((e) => e.event!.position.commit);
    expect([...commits].sort((a, b) => (a < b ? -1 : 1))).toEqual(commits);
  });

  it('keeps system events out with excludeSystemEvents and reports checkpoints', async () => {
    const checkpoints: Position[] = [];
    const s = stream();
    await ctx.client.appendToStream(s, event('Before'));
    const subscription = ctx.client.subscribeToAll({
      fromPosition: START,
      filter: excludeSystemEvents({
        checkpointReached: (_sub, position) => void checkpoints.push(position),
      }),
    });
    const recording = record<AllStreamResolvedEvent>(subscription, checkpoints);
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    const statsWritten = ctx.server.eventCount();
    await ctx.client.appendToStream(s, event('Live'));
    await until(() => ctx.server.eventCount() > statsWritten + 1, 'a periodic system event');
    await until(() => recording.events.some((e) => e.event!.type === 'Live'), 'the live event');

    expect(recording.events.map((e) => e.event!.type)).toEqual(['Before', 'Live']);
    // At least the checkpoint on reaching the end of catch-up, which lies at or after the last event sent.
    expect(checkpoints.length).toBeGreaterThanOrEqual(1);
    expect(checkpoints[0].commit).toBeGreaterThanOrEqual(
      recording.events[0].event!.position.commit,
    );
  });

  it('filters by stream name prefix and sends a live checkpoint every 32 events written', async () => {
    const quiet = await startEsdbTestServer();
    const client = EventStoreDBClient.connectionString(quiet.connectionString);
    try {
      const checkpoints: Position[] = [];
      const keep = stream('keep');
      const subscription = client.subscribeToAll({
        fromPosition: END,
        filter: streamNameFilter({
          prefixes: ['keep-'],
          checkpointReached: (_sub, position) => void checkpoints.push(position),
        }),
      });
      const recording = record<AllStreamResolvedEvent>(subscription, checkpoints);
      await until(() => recording.signals.includes('caughtUp'), 'caught up');

      const skipped = await client.appendToStream(
        stream('skip'),
        Array.from({ length: 32 }, () => event()),
      );
      await until(() => checkpoints.length === 1, 'a live checkpoint');
      expect(checkpoints[0]).toEqual(skipped.position);
      await client.appendToStream(keep, event('Kept'));
      await until(() => recording.events.length === 1, 'the kept event');
      expect(recording.events[0].event!.streamId).toBe(keep);
    } finally {
      await client.dispose();
      await quiet.close();
    }
  });

  it('filters by event type prefix and starts after a given position', async () => {
    const s = stream();
    await ctx.client.appendToStream(s, [
      event('OrderPlaced'),
      event('Other'),
      event('OrderShipped'),
    ]);
    const [placed] = (await collect(ctx.client.readStream(s))).map((e) => e.event!);
    const recording = record<AllStreamResolvedEvent>(
      ctx.client.subscribeToAll({
        fromPosition: placed.position!,
        filter: eventTypeFilter({ prefixes: ['Order'] }),
      }),
    );
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    expect(recording.events.map((e) => e.event!.type)).toEqual(['OrderShipped']);
  });

  it('subscribes to a stream from a revision, exclusive, then live', async () => {
    const s = stream();
    await ctx.client.appendToStream(
      s,
      ['A', 'B', 'C'].map((t) => event(t)),
    );
    await ctx.client.appendToStream(stream(), event('Elsewhere'));
    const recording = record<ResolvedEvent>(ctx.client.subscribeToStream(s, { fromRevision: 0n }));
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    await ctx.client.appendToStream(s, event('D'));
    await until(() => recording.events.length === 3, 'three events');
    expect(recording.events.map((e) => e.event!.type)).toEqual(['B', 'C', 'D']);
    expect(recording.events.map((e) => e.event!.revision)).toEqual([1n, 2n, 3n]);
  });

  it('subscribes to a stream that does not exist yet and receives its first events', async () => {
    const s = stream();
    const recording = record<ResolvedEvent>(ctx.client.subscribeToStream(s));
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    await ctx.client.appendToStream(s, event('First'), { expectedRevision: NO_STREAM });
    await until(() => recording.events.length === 1, 'the first event');
    expect(recording.errors).toEqual([]);
  });

  it('falls behind on a burst bigger than its live buffer and catches up without losing or repeating events', async () => {
    const s = stream();
    const recording = record<ResolvedEvent>(ctx.client.subscribeToStream(s, { fromRevision: END }));
    await until(() => recording.signals.includes('caughtUp'), 'caught up');
    await ctx.client.appendToStream(
      s,
      Array.from({ length: 40 }, () => event()),
    );
    await until(() => recording.events.length === 40, 'forty events');
    expect(recording.events.map((e) => e.event!.revision)).toEqual(
      Array.from({ length: 40 }, (_, i) => BigInt(i)),
    );
    expect(recording.signals).toEqual(['confirmation', 'caughtUp', 'fellBehind', 'caughtUp']);
  });
});

describe('availability', () => {
  const ctx = startServer();

  it('fails calls in flight and new calls as unavailable when it goes down, and serves the same data when it comes back', async () => {
    const s = stream();
    await ctx.client.appendToStream(s, event('Before'));
    const recording = record<ResolvedEvent>(ctx.client.subscribeToStream(s));
    await until(() => recording.signals.includes('caughtUp'), 'caught up');

    await ctx.server.goDown();
    await until(() => recording.errors.length === 1, 'the subscription to fail');
    expect(recording.errors[0]).toBeInstanceOf(UnavailableError);
    expect(await failure(collect(ctx.client.readStream(s)))).toBeInstanceOf(UnavailableError);
    // appendToStream first fetches the server features, and client 6.2.1 passes that failure on
    // unconverted: a plain gRPC error with code UNAVAILABLE rather than an UnavailableError.
    expect(await failure(ctx.client.appendToStream(s, event()))).toMatchObject({
      code: status.UNAVAILABLE,
    });

    await ctx.server.comeBack();
    await ctx.client.appendToStream(s, event('After'), { expectedRevision: 0n });
    expect((await collect(ctx.client.readStream(s))).map((e) => e.event!.type)).toEqual([
      'Before',
      'After',
    ]);
  });
});

describe('on the wire', () => {
  const ctx = startServer({ advertiseBatchAppend: false });

  it('lists the methods it implements in ServerFeatures', async () => {
    const raw = new ServerFeaturesClient(
      `127.0.0.1:${ctx.server.port}`,
      credentials.createInsecure(),
    );
    try {
      const methods = await new Promise<SupportedMethods>((resolve, reject) =>
        raw.getSupportedMethods(new Empty(), (error, result) =>
          error ? reject(error) : resolve(result),
        ),
      );
      const paths = methods
        .getMethodsList()
        .map((m) => `${m.getServiceName()}/${m.getMethodName()}`);
      expect(paths).toContain('event_store.client.streams.streams/read');
      expect(paths).toContain('event_store.client.streams.streams/append');
      expect(paths).not.toContain('event_store.client.streams.streams/batchappend');
      expect(methods.getEventStoreServerVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    } finally {
      raw.close();
    }
  });

  it('sends ids in the structured form when asked to', async () => {
    const s = stream();
    const appended = event();
    await ctx.client.appendToStream(s, appended);
    const raw = new StreamsClient(`127.0.0.1:${ctx.server.port}`, credentials.createInsecure());
    try {
      const options = new ReadReq.Options()
        .setStream(
          new ReadReq.Options.StreamOptions()
            .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from(s)))
            .setStart(new Empty()),
        )
        .setCount('10')
        .setNoFilter(new Empty())
        .setUuidOption(new ReadReq.Options.UUIDOption().setStructured(new Empty()));
      const responses = await collect(
        raw.read(new ReadReq().setOptions(options)) as ClientReadableStream<ReadResp> &
          AsyncIterable<ReadResp>,
      );
      const structured = responses[0].getEvent()!.getEvent()!.getId()!.getStructured()!;
      const hex = [structured.getMostSignificantBits(), structured.getLeastSignificantBits()]
        .map((half) => BigInt.asUintN(64, BigInt(half)).toString(16).padStart(16, '0'))
        .join('');
      expect(hex).toBe(appended.id.replace(/-/g, ''));
    } finally {
      raw.close();
    }
  });
});
