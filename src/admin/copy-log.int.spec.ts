import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createTestDatabase, createTestPool, TestDatabase } from '../../test/support/database';
import { EsdbTestServer, startEsdbTestServer } from '../../test/support/esdb-test-server';
import {
  EventData,
  EventStore,
  EventStoreUnavailableError,
  RecordedEvent,
  START,
} from '../event-store/event-store.port';
import { EventStoreDbEventStore } from '../event-store/eventstoredb/eventstoredb-event-store';
import { PostgresEventStore } from '../event-store/postgres/postgres-event-store';
import {
  canonicalJson,
  CopyConflictError,
  copyLog,
  CopyProgress,
  streamRuns,
  TargetNotFromSourceError,
  verifyCopy,
} from './copy-log';

/** An event whose JSON has keys out of order, which PostgreSQL's jsonb reorders. */
function event(n: number): EventData {
  return {
    id: randomUUID(),
    type: n % 5 === 0 ? 'MessageRecalled' : 'MessageSent',
    data: { zeta: n, alpha: { y: 'text', b: [1, { d: null, c: n * 2 }] }, seqno: n },
    metadata: {
      actor: { kind: 'user', id: `u${n % 7}` },
      correlationId: randomUUID(),
      causationId: randomUUID(),
      device: 'test',
    },
  };
}

/**
 * Appends `count` events over `streams` streams, one to three events per append, several appends
 * at once (the log then holds transactions with events of several streams).
 */
async function seed(store: EventStore, count: number, streams = 20): Promise<string[]> {
  const names = Array.from({ length: streams }, () => `conversation-${randomUUID()}`);
  const revisions = new Map<string, number>();
  let n = 0;
  while (n < count) {
    const round: Promise<unknown>[] = [];
    for (const stream of names) {
      if (n >= count) break;
      const size = Math.min(1 + ((n + stream.length) % 3), count - n);
      const events = Array.from({ length: size }, () => event(n++));
      const current = revisions.get(stream) ?? -1;
      revisions.set(stream, current + size);
      round.push(store.append(stream, events, current < 0 ? 'no_stream' : current));
    }
    await Promise.all(round);
  }
  return names;
}

async function readLog(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let after = START;
  for (;;) {
    const page = await store.readAll({ after, limit: 1000 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1].position;
  }
}

describe('copying the PostgreSQL log into EventStoreDB', () => {
  let db: TestDatabase;
  let pool: Pool;
  let source: PostgresEventStore;
  let server: EsdbTestServer;
  let target: EventStoreDbEventStore;
  const targets: EventStoreDbEventStore[] = [];

  /** A fresh adapter, as a later run of the command has. */
  const newTarget = () => {
    const store = EventStoreDbEventStore.fromConnectionString(server.connectionString);
    targets.push(store);
    return store;
  };

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createTestPool(db.url, 8);
    source = new PostgresEventStore(pool);
    server = await startEsdbTestServer();
    target = newTarget();
  });

  afterEach(async () => {
    for (const store of targets.splice(0)) await store.close();
    await server.close();
    await source.close();
    await pool.end();
    await db.drop();
  });

  it('copies every event keeping ids, revisions, data, metadata and commit times', async () => {
    // Given a log of 600 events over 20 streams, written by appends of one to three events
    const streams = await seed(source, 600);
    const progress: CopyProgress[] = [];

    // When it is copied
    const result = await copyLog(source, target, {
      batchSize: 100,
      onProgress: (p) => progress.push(p),
      countSource: async () => 600,
    });

    // Then every event is in the target, in the same order, with the same identity and content
    expect(result).toMatchObject({
      status: 'completed',
      copied: 600,
      alreadyCopied: 0,
      total: 600,
    });
    expect(result.resumedAfter).toBeNull();
    expect(progress[progress.length - 1]).toMatchObject({ copied: 600, total: 600 });
    const sourceLog = await readLog(source);
    const targetLog = await readLog(target);
    const identity = (e: RecordedEvent) => ({
      id: e.id,
      streamId: e.streamId,
      revision: e.revision,
      type: e.type,
      data: e.data,
      metadata: e.metadata,
      createdAt: e.createdAt.toISOString(),
    });
    expect(targetLog.map(identity)).toEqual(sourceLog.map(identity));
    for (const stream of streams) {
      expect((await target.readStream(stream)).map(identity)).toEqual(
        (await source.readStream(stream)).map(identity),
      );
    }
    // And the verification finds them equal
    await expect(verifyCopy(source, target, { batchSize: 128 })).resolves.toEqual({
      equal: true,
      sourceEvents: 600,
      targetEvents: 600,
      streams: 20,
      mismatches: [],
      moreMismatches: 0,
    });
  });

  it('stops when the signal aborts and a later run resumes where it stopped', async () => {
    // Given a copy stopped a third of the way
    await seed(source, 900, 30);
    const stop = new AbortController();
    const first = await copyLog(source, target, {
      batchSize: 50,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.copied >= 300) stop.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    expect(first.copied).toBeGreaterThanOrEqual(300);
    expect(first.copied).toBeLessThan(900);
    expect((await readLog(target)).length).toBe(first.copied);

    // When the copy runs again, with a fresh adapter as a new process would have
    const second = await copyLog(source, newTarget(), { batchSize: 50 });

    // Then it goes on after the last copied event and the logs end up equal
    const lastCopied = (await readLog(target))[first.copied - 1];
    expect(second.resumedAfter).toEqual({
      streamId: lastCopied.streamId,
      revision: lastCopied.revision,
      id: lastCopied.id,
    });
    expect(second).toMatchObject({
      status: 'completed',
      alreadyCopied: first.copied,
      copied: 900 - first.copied,
      total: 900,
    });
    expect((await verifyCopy(source, target)).equal).toBe(true);
  });

  it('copies nothing when the target already holds the whole log', async () => {
    // Given a completed copy
    await seed(source, 120);
    await copyLog(source, target);
    const before = server.eventCount();

    // When it runs again
    const again = await copyLog(source, newTarget());

    // Then nothing is appended
    expect(again).toMatchObject({ status: 'completed', copied: 0, alreadyCopied: 120, total: 120 });
    expect(server.eventCount()).toBe(before);
  });

  it('finds the last event of either store without reading its whole log', async () => {
    // Given two logs of 300 events (with the server's own events around them in EventStoreDB)
    await seed(source, 300);
    await copyLog(source, target);
    const sourceLog = await readLog(source);
    for (const store of [source, target]) {
      const reads = jest.spyOn(store, 'readAll');
      // When the last event is looked up, then it is found without a read of the log
      const last = await store.lastEvent();
      expect(last).toMatchObject({ id: sourceLog[299].id, revision: sourceLog[299].revision });
      expect(reads).not.toHaveBeenCalled();
      reads.mockRestore();
    }
  });

  it('refuses a target that holds events not copied from the source', async () => {
    // Given a target that already holds an event of its own
    await seed(source, 50);
    await target.append(`conversation-${randomUUID()}`, [event(1)], 'no_stream');
    const before = server.eventCount();

    // When the copy runs, then it is refused and nothing is written
    await expect(copyLog(source, target)).rejects.toThrow(TargetNotFromSourceError);
    await expect(copyLog(source, target)).rejects.toThrow(/not filled from this log/);
    expect(server.eventCount()).toBe(before);
  });

  it('reports the streams that differ after the copy', async () => {
    // Given a complete copy, then an extra event in one target stream and a stream of its own
    const streams = await seed(source, 200, 10);
    await copyLog(source, target);
    const changed = streams[3];
    const [last] = await target.readStream(changed, { direction: 'backwards', limit: 1 });
    await target.append(changed, [event(999)], last.revision);
    const foreign = `group-${randomUUID()}`;
    await target.append(foreign, [event(1000), event(1001)], 'no_stream');

    // When the copy is verified
    const report = await verifyCopy(source, target);

    // Then both streams are reported, and nothing else
    expect(report).toMatchObject({
      equal: false,
      sourceEvents: 200,
      targetEvents: 203,
      streams: 11,
    });
    expect(report.mismatches).toEqual(
      expect.arrayContaining([
        {
          streamId: changed,
          sourceCount: last.revision + 1,
          targetCount: last.revision + 2,
          reason: 'event counts differ',
        },
        { streamId: foreign, sourceCount: 0, targetCount: 2, reason: 'not in source' },
      ]),
    );
    expect(report.mismatches).toHaveLength(2);
  });

  it('caps the list of differing streams', async () => {
    // Given a source of 30 streams and an empty target
    await seed(source, 60, 30);

    // When it is verified with at most 10 listed
    const report = await verifyCopy(source, target, { maxMismatches: 10 });

    // Then 10 are listed and the rest counted
    expect(report.equal).toBe(false);
    expect(report.mismatches).toHaveLength(10);
    expect(report.moreMismatches).toBe(20);
    expect(report.mismatches[0]).toMatchObject({ targetCount: 0, reason: 'missing in target' });
  });

  it('fails with EventStoreUnavailableError when the target goes down, and a later run completes the copy', async () => {
    // Given a target that goes down before its 200th append (a run of one stream each here)
    await seed(source, 600);
    let appends = 0;
    const goingDown = new Proxy(target, {
      get(store, property) {
        if (property === 'append') {
          return async (...args: Parameters<EventStore['append']>) => {
            if (++appends === 200) await server.goDown();
            return store.append(...args);
          };
        }
        const value: unknown = Reflect.get(store, property);
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(store)
          : value;
      },
    });
    const copying = copyLog(source, goingDown, { batchSize: 50 });

    // Then the copy fails as unavailable
    await expect(copying).rejects.toThrow(EventStoreUnavailableError);

    // When the target is back and the copy runs again
    await server.comeBack();
    const resumed = await copyLog(source, newTarget(), { batchSize: 50 });

    // Then it resumes and the logs are equal
    expect(resumed.status).toBe('completed');
    expect(resumed.alreadyCopied).toBeGreaterThanOrEqual(199);
    expect(resumed.alreadyCopied).toBeLessThan(600);
    expect(resumed.alreadyCopied + resumed.copied).toBe(600);
    expect((await verifyCopy(source, target)).equal).toBe(true);
  });

  it('stops with the stream and revision when a target stream holds other events there', async () => {
    // Given a source A0, B0 and a target holding a foreign event in B, then a copy of A0
    const a = `conversation-${randomUUID()}`;
    const b = `conversation-${randomUUID()}`;
    await source.append(a, [event(1)], 'no_stream');
    await source.append(b, [event(2)], 'no_stream');
    await target.append(b, [event(3)], 'no_stream');
    const [a0] = await source.readStream(a);
    await target.append(a, [{ ...a0, recordedAt: a0.createdAt }], 'no_stream');

    // When the copy resumes after A0, then B refuses its revision 0
    const copying = copyLog(source, target);
    await expect(copying).rejects.toThrow(CopyConflictError);
    await expect(copying).rejects.toMatchObject({ streamId: b, revision: 0, targetRevision: 0 });
    await expect(copying).rejects.toThrow(
      `stream ${b}: the target holds different events at revision 0`,
    );
  });
});

describe('copyLog helpers', () => {
  const recorded = (streamId: string, revision: number, size = 10): RecordedEvent => ({
    id: randomUUID(),
    type: 'T',
    streamId,
    revision,
    position: START,
    data: { text: 'x'.repeat(size) },
    metadata: { actor: { kind: 'system', id: 's' }, correlationId: 'c' },
    createdAt: new Date(0),
  });

  it('groups consecutive events of one stream into one append, and cuts large runs', () => {
    const page = [
      recorded('a-1', 0),
      recorded('a-1', 1),
      recorded('b-1', 4),
      recorded('a-1', 2),
      recorded('a-1', 3),
      recorded('a-1', 5), // a gap: never one append
    ];
    expect(
      streamRuns(page, 1e6).map((run) => run.map((e) => `${e.streamId}@${e.revision}`)),
    ).toEqual([['a-1@0', 'a-1@1'], ['b-1@4'], ['a-1@2', 'a-1@3'], ['a-1@5']]);
    const big = [recorded('c-1', 0, 600), recorded('c-1', 1, 600), recorded('c-1', 2, 600)];
    expect(streamRuns(big, 1600).map((run) => run.length)).toEqual([2, 1]);
  });

  it('writes JSON with sorted keys at every depth, as JSON.stringify otherwise would', () => {
    expect(
      canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: undefined }, when: new Date(0) }),
    ).toBe('{"a":{"d":[3,{"e":2,"f":1}]},"b":1,"when":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson([undefined, null, 'x'])).toBe('[null,null,"x"]');
  });
});
