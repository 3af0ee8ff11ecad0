import { randomUUID } from 'node:crypto';
import {
  comparePositions,
  DuplicateEventIdError,
  EventData,
  EventStore,
  ExpectedRevision,
  NO_METADATA,
  Position,
  RecordedEvent,
  SKIPPED_EVENT_TYPE,
  START,
  WrongExpectedVersionError,
} from '../src/event-store/event-store.port';
import { waitFor } from './support/wait-for';

export interface ContractSubject {
  readonly store: EventStore;
  /**
   * Appends like `store.append` but holds the transaction open for `delayMs` before it commits,
   * so commits land out of the order in which positions were taken.
   */
  readonly appendWithDelayedCommit?: (
    streamId: string,
    events: readonly EventData[],
    expected: ExpectedRevision,
    delayMs: number,
  ) => Promise<void>;
  /**
   * Whether an event id already used in one stream is refused in another. The PostgreSQL log
   * refuses it (DuplicateEventIdError); EventStoreDB checks ids only within a stream.
   */
  readonly refusesEventIdsOfOtherStreams: boolean;
  /** A second adapter instance on the same store, as another process would have. */
  another(): Promise<EventStore>;
  cleanup(): Promise<void>;
}

let counter = 0;
export function ev(type = 'Happened', data: Record<string, unknown> = {}): EventData {
  return {
    id: randomUUID(),
    type,
    data: { n: counter++, ...data },
    metadata: { actor: { kind: 'user', id: 'u1' }, correlationId: randomUUID(), device: 'test' },
  };
}

const stream = (name = 'thing') => `${name}-${randomUUID()}`;

/** The behaviour every adapter of the event store port must show. */
export function describeEventStoreContract(
  adapter: string,
  makeSubject: () => Promise<ContractSubject>,
): void {
  describe(`event store contract: ${adapter}`, () => {
    let subject: ContractSubject;
    let store: EventStore;

    beforeEach(async () => {
      subject = await makeSubject();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    describe('append and readStream', () => {
      it('appends to a new stream with no_stream and reads the events back in order', async () => {
        const s = stream();
        const events = [ev('A', { x: 1 }), ev('B', { y: 'two' }), ev('C')];
        const result = await store.append(s, events, 'no_stream');
        expect(result.nextExpectedRevision).toBe(2);
        expect(result.alreadyWritten).toBe(false);

        const read = await store.readStream(s);
        expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(read.map((e) => e.id)).toEqual(events.map((e) => e.id));
        expect(read.map((e) => e.type)).toEqual(['A', 'B', 'C']);
        expect(read[0].data).toEqual(events[0].data);
        expect(read[1].metadata).toEqual(events[1].metadata);
        expect(read[2].streamId).toBe(s);
        expect(comparePositions(read[2].position, result.position)).toBe(0);
      });

      it('rejects no_stream on a stream that exists, naming the actual revision', async () => {
        const s = stream();
        await store.append(s, [ev(), ev()], 'no_stream');
        const err = await store.append(s, [ev()], 'no_stream').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WrongExpectedVersionError);
        expect((err as WrongExpectedVersionError).actual).toBe(1);
        expect((err as WrongExpectedVersionError).streamId).toBe(s);
        expect(await store.readStream(s)).toHaveLength(2);
      });

      it('appends at the expected revision and rejects a stale one', async () => {
        const s = stream();
        await store.append(s, [ev()], 'no_stream');
        await expect(store.append(s, [ev()], 0)).resolves.toMatchObject({
          nextExpectedRevision: 1,
        });
        const err = await store.append(s, [ev()], 0).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WrongExpectedVersionError);
        expect((err as WrongExpectedVersionError).actual).toBe(1);
        const missing = await store.append(stream(), [ev()], 3).catch((e: unknown) => e);
        expect((missing as WrongExpectedVersionError).actual).toBe('no_stream');
      });

      it('accepts any, and stream_exists only on a stream that exists', async () => {
        const s = stream();
        await expect(store.append(s, [ev()], 'stream_exists')).rejects.toBeInstanceOf(
          WrongExpectedVersionError,
        );
        await store.append(s, [ev()], 'any');
        await store.append(s, [ev()], 'any');
        await expect(store.append(s, [ev()], 'stream_exists')).resolves.toMatchObject({
          nextExpectedRevision: 2,
        });
      });

      it('does not write a retried append twice, even with a stale expected revision', async () => {
        const s = stream();
        const events = [ev(), ev()];
        const first = await store.append(s, events, 'no_stream');
        const again = await store.append(s, events, 'no_stream');
        expect(again.alreadyWritten).toBe(true);
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        await store.append(s, [ev()], 1);
        const late = await store.append(s, events, 'any');
        expect(late).toMatchObject({ alreadyWritten: true, nextExpectedRevision: 1 });
        expect(await store.readStream(s)).toHaveLength(3);
      });

      it('reports a repeat that another process decided again as already written, keeping the first', async () => {
        // Given an event written through one instance
        const s = stream();
        await store.append(s, [ev()], 'no_stream');
        const first = ev('X', { v: 1 });
        await store.append(s, [first], 0);
        // When another instance, which never saw it, appends the same id decided afresh
        const other = await subject.another();
        const again: EventData = {
          ...first,
          data: { v: 2 },
          metadata: { ...first.metadata, correlationId: randomUUID() },
        };
        const result = await other.append(s, [again], 0);
        // Then nothing is written, and it says so
        expect(result).toMatchObject({ alreadyWritten: true, nextExpectedRevision: 1 });
        const stored = await other.readStream(s);
        expect(stored).toHaveLength(2);
        expect(stored[1].data).toEqual(first.data);
        // while a new event through it is a new write
        await expect(other.append(s, [ev()], 1)).resolves.toMatchObject({
          alreadyWritten: false,
          nextExpectedRevision: 2,
        });
      });

      it('refuses an event id of another stream, or keeps both, as the adapter declares', async () => {
        const e = ev();
        await store.append(stream(), [e], 'no_stream');
        const other = stream();
        if (subject.refusesEventIdsOfOtherStreams) {
          await expect(store.append(other, [e], 'any')).rejects.toBeInstanceOf(
            DuplicateEventIdError,
          );
          expect(await store.readStream(other)).toEqual([]);
        } else {
          await expect(store.append(other, [e], 'any')).resolves.toMatchObject({
            alreadyWritten: false,
            nextExpectedRevision: 0,
          });
          expect((await store.readStream(other)).map((r) => r.id)).toEqual([e.id]);
        }
      });

      it('keeps every metadata field, and a causation id when there is one', async () => {
        const s = stream();
        const metadata = {
          actor: { kind: 'admin' as const, id: 'ops-1' },
          correlationId: randomUUID(),
          causationId: randomUUID(),
          ip: '203.0.113.9',
          device: 'cli',
          at: new Date().toISOString(),
        };
        const withAll = { ...ev('A'), metadata };
        const bare = ev('B');
        await store.append(s, [withAll, bare], 'no_stream');
        const [first, second] = await store.readStream(s);
        expect(first.metadata).toEqual(metadata);
        expect(second.metadata).toEqual(bare.metadata);
        expect(second.metadata).not.toHaveProperty('causationId');
        expect(first.createdAt).toBeInstanceOf(Date);
        expect(Math.abs(first.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      });

      it('rejects malformed appends before writing anything', async () => {
        const s = stream();
        await expect(store.append(s, [], 'any')).rejects.toThrow(/at least one event/);
        await expect(store.append(s, [{ ...ev(), id: 'nope' }], 'any')).rejects.toThrow(/UUID/);
        const e = ev();
        await expect(store.append(s, [e, e], 'any')).rejects.toThrow(/repeated/);
        expect(await store.readStream(s)).toEqual([]);
      });

      it('reads a stream from a revision, backwards, and with a limit', async () => {
        const s = stream();
        await store.append(s, [ev(), ev(), ev(), ev(), ev()], 'no_stream');
        expect((await store.readStream(s, { fromRevision: 3 })).map((e) => e.revision)).toEqual([
          3, 4,
        ]);
        expect(
          (await store.readStream(s, { direction: 'backwards', limit: 2 })).map((e) => e.revision),
        ).toEqual([4, 3]);
        expect(
          (await store.readStream(s, { direction: 'backwards', fromRevision: 1 })).map(
            (e) => e.revision,
          ),
        ).toEqual([1, 0]);
        expect(await store.readStream(stream('missing'))).toEqual([]);
      });

      it('keeps concurrent appends to one stream consistent: exactly one wins each revision', async () => {
        const s = stream();
        await store.append(s, [ev()], 'no_stream');
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, () => store.append(s, [ev()], 0)),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(
          results.filter(
            (r) => r.status === 'rejected' && r.reason instanceof WrongExpectedVersionError,
          ),
        ).toHaveLength(9);
        expect(await store.readStream(s)).toHaveLength(2);
      });
    });

    describe('readRange', () => {
      it('reads a bounded range in batches, whole events of the asked types only, to its end', async () => {
        const before = (await store.headPosition()) ?? START;
        const a = stream();
        const types = ['Kept', 'Other', 'Kept', 'Other', 'Kept'];
        await store.append(
          a,
          types.map((t) => ev(t)),
          'no_stream',
        );
        const until = (await store.headPosition())!;
        const all = await store.readAll({ after: before, limit: 1000 });
        expect(all.map((e) => e.type)).toEqual(types);

        const batches: { events: RecordedEvent[]; to: Position }[] = [];
        for (let after = before; comparePositions(after, until) < 0;) {
          const batch = await store.readRange({
            after,
            until,
            limit: 2,
            types: new Set(['Kept']),
            metadata: false,
          });
          batches.push(batch);
          after = batch.to;
        }
        expect(batches.map((b) => b.events.length)).toEqual([2, 2, 1]);
        expect(comparePositions(batches[0].to, all[1].position)).toBe(0);
        expect(comparePositions(batches[2].to, until)).toBe(0);
        const read = batches.flatMap((b) => b.events);
        read.forEach((e, i) => {
          expect(comparePositions(e.position, all[i].position)).toBe(0);
          if (all[i].type === 'Kept') {
            expect(e).toMatchObject({ id: all[i].id, type: 'Kept', streamId: a, revision: i });
            expect(e.data).toEqual(all[i].data);
            expect(e.metadata).toBe(NO_METADATA);
          } else {
            expect(e).toMatchObject({ type: SKIPPED_EVENT_TYPE, data: null });
          }
        });

        // Every type, metadata and all, by default; nothing past `until`.
        const upToThird = await store.readRange({
          after: before,
          until: all[2].position,
          limit: 10,
        });
        expect(upToThird.events.map((e) => e.id)).toEqual(all.slice(0, 3).map((e) => e.id));
        expect(upToThird.events[0].metadata).toEqual(all[0].metadata);
        expect(comparePositions(upToThird.to, all[2].position)).toBe(0);
      });
    });

    describe('readAll and subscribeAll', () => {
      it('reads every stream in position order, after an exclusive position', async () => {
        const a = stream();
        const b = stream();
        await store.append(a, [ev()], 'no_stream');
        await store.append(b, [ev(), ev()], 'no_stream');
        await store.append(a, [ev()], 0);
        const all = await store.readAll({ limit: 1000 });
        const mine = all.filter((e) => e.streamId === a || e.streamId === b);
        expect(mine.map((e) => [e.streamId, e.revision])).toEqual([
          [a, 0],
          [b, 0],
          [b, 1],
          [a, 1],
        ]);
        for (let i = 1; i < all.length; i++) {
          expect(comparePositions(all[i - 1].position, all[i].position)).toBe(-1);
        }
        const rest = await store.readAll({ after: mine[1].position, limit: 2 });
        expect(rest.map((e) => e.id)).toEqual([mine[2].id, mine[3].id]);
        const head = await store.headPosition();
        expect(comparePositions(head!, mine[3].position)).toBe(0);
        expect(await store.lastEvent()).toMatchObject({ id: mine[3].id, streamId: a, revision: 1 });
        expect(await store.countAfter(mine[1].position)).toBe(2);
      });

      it('catches up and then follows live appends', async () => {
        const s = stream();
        await store.append(s, [ev(), ev()], 'no_stream');
        const controller = new AbortController();
        const received: RecordedEvent[] = [];
        const done = (async () => {
          for await (const batch of store.subscribeAll({ signal: controller.signal })) {
            received.push(...batch.filter((e) => e.streamId === s));
          }
        })();
        await waitFor(() => received.length === 2, 'catch-up');
        await store.append(s, [ev()], 1);
        await waitFor(() => received.length === 3, 'live event');
        controller.abort();
        await done;
        expect(received.map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('delivers every event exactly once, in stream order, to a subscriber following 16 concurrent writers over 200 streams', async () => {
        const streams = Array.from({ length: 200 }, () => stream('load'));
        const perWriter = 60;
        const controller = new AbortController();
        const seen = new Map<string, number[]>();
        const ids = new Set<string>();
        let duplicates = 0;
        let total = 0;
        const follower = (async () => {
          for await (const batch of store.subscribeAll({
            signal: controller.signal,
            batchSize: 97,
          })) {
            for (const e of batch) {
              if (!e.streamId.startsWith('load-')) continue;
              if (ids.has(e.id)) duplicates++;
              ids.add(e.id);
              total++;
              const revs = seen.get(e.streamId) ?? [];
              revs.push(e.revision);
              seen.set(e.streamId, revs);
            }
          }
        })();

        const writer = async (w: number) => {
          for (let i = 0; i < perWriter; i++) {
            const s = streams[(w * 7919 + i * 104729) % streams.length];
            const events = [ev('Load', { w, i })];
            const delay = Math.floor(Math.random() * 25);
            if (subject.appendWithDelayedCommit && i % 3 === 0) {
              await subject.appendWithDelayedCommit(s, events, 'any', delay);
            } else {
              await store.append(s, events, 'any');
            }
          }
        };
        await Promise.all(Array.from({ length: 16 }, (_, w) => writer(w)));
        const expected = 16 * perWriter;
        await waitFor(() => total >= expected, 'subscriber to receive every event', 60_000);
        controller.abort();
        await follower;

        expect(duplicates).toBe(0);
        expect(total).toBe(expected);
        for (const [, revs] of seen) {
          expect(revs).toEqual(revs.map((_, i) => i));
        }
      });
    });
  });
}
