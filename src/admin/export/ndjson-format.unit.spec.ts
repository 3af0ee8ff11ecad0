import type { EventMetadata, RecordedEvent } from '../../event-store/event-store.port';
import { validateExport } from './import-events';
import { fakeEnvelope } from '../../../test/support/test-keys';
import type { StoredDataKey } from '../../crypto/key-ring';
import {
  eventLine,
  headerLine,
  ImportLineError,
  keyLine,
  parseLine,
  summaryLine,
  toEventData,
} from './ndjson-format';

const ID = '0b6e6a4c-55f4-4c51-9b8a-2f0f7c9d1e11';

const recorded = (over: Partial<RecordedEvent> = {}): RecordedEvent => ({
  id: ID,
  type: 'MessageSent',
  streamId: 'conversation-alice~bob',
  revision: 0,
  position: { commit: 7n, prepare: 42n },
  // Keys out of order, as PostgreSQL's jsonb hands them back
  data: {
    seqno: 1,
    content: 'e1.YWxpY2U.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA',
    at: { z: 1, a: 2 },
  },
  metadata: { correlationId: 'c-1', actor: { kind: 'user', id: 'alice' } },
  createdAt: new Date('2026-12-05T09:30:00.123Z'),
  ...over,
});

const event = (stream: string, revision: number, id = ID) =>
  eventLine(recorded({ streamId: stream, revision, id })).trimEnd();

async function* linesOf(...lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

describe('the NDJSON export format', () => {
  it('writes an event as one line, keys in a fixed order, data and metadata keys sorted', () => {
    expect(eventLine(recorded())).toBe(
      '{"id":"0b6e6a4c-55f4-4c51-9b8a-2f0f7c9d1e11","stream":"conversation-alice~bob",' +
        '"revision":0,"type":"MessageSent","created_at":"2026-12-05T09:30:00.123Z",' +
        '"metadata":{"actor":{"id":"alice","kind":"user"},"correlationId":"c-1"},' +
        '"data":{"at":{"a":2,"z":1},"content":"e1.YWxpY2U.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA","seqno":1},' +
        '"position":{"commit":"7","prepare":"42"}}\n',
    );
  });

  it('reads back what it wrote, as the event to append with its original time', () => {
    const parsed = parseLine(eventLine(recorded()), 2);
    expect(parsed.kind).toBe('event');
    if (parsed.kind !== 'event') return;
    expect(toEventData(parsed.event)).toEqual({
      id: ID,
      type: 'MessageSent',
      data: recorded().data,
      metadata: recorded().metadata,
      recordedAt: new Date('2026-12-05T09:30:00.123Z'),
    });
  });

  it('reads headers of versions 1 and 2', () => {
    for (const version of [1, 2]) {
      const text = JSON.stringify({ format: 'im-events', version, store: 'postgres', filter: {} });
      expect(parseLine(text, 1).kind).toBe('header');
    }
  });

  describe('key lines (export --with-keys)', () => {
    const live: StoredDataKey = {
      uid: 'alice',
      wrappedKey: Buffer.alloc(60, 7),
      createdAt: new Date('2026-12-01T08:00:00.000Z'),
      destroyedAt: null,
    };
    const destroyed: StoredDataKey = {
      uid: 'bob',
      wrappedKey: null,
      createdAt: new Date('2026-12-01T08:00:00.000Z'),
      destroyedAt: new Date('2026-12-03T12:00:00.000Z'),
    };
    const edit = (k: StoredDataKey, change: (key: Record<string, unknown>) => void) => {
      const o = JSON.parse(keyLine(k)) as { key: Record<string, unknown> };
      change(o.key);
      return JSON.stringify(o);
    };

    it('writes a key wrapped (base64) or destroyed, and reads it back as it was', () => {
      expect(keyLine(live)).toBe(
        `{"key":{"uid":"alice","wrapped_key":"${Buffer.alloc(60, 7).toString('base64')}",` +
          '"created_at":"2026-12-01T08:00:00.000Z","destroyed_at":null}}\n',
      );
      expect(parseLine(keyLine(live), 9)).toEqual({ kind: 'key', key: live });
      expect(parseLine(keyLine(destroyed), 9)).toEqual({ kind: 'key', key: destroyed });
    });

    it.each<[string, string, string]>([
      ['a short key', edit(live, (k) => (k.wrapped_key = 'AAAA')), '"key.wrapped_key" must be 60'],
      [
        'a key not in base64',
        edit(live, (k) => (k.wrapped_key = '*'.repeat(80))),
        '"key.wrapped_key" must be 60',
      ],
      [
        'a key and a destruction',
        edit(live, (k) => (k.destroyed_at = k.created_at)),
        'a key with "wrapped_key" has "destroyed_at": null',
      ],
      [
        'neither',
        edit(destroyed, (k) => (k.destroyed_at = null)),
        'a destroyed key ("wrapped_key": null) needs',
      ],
      ['no uid', edit(live, (k) => (k.uid = '')), '"key.uid" must be a user id'],
      ['a uid with U+0000', edit(live, (k) => (k.uid = 'a\u0000')), '"key.uid" must be a user id'],
      ['a bad time', edit(live, (k) => (k.created_at = 'noon')), '"key.created_at" must be'],
      ['an unknown field', edit(live, (k) => (k.owner = 'x')), 'unknown field "key.owner"'],
      [
        'another field beside',
        keyLine(live).replace('{"key"', '{"x":1,"key"'),
        'unknown field "x"',
      ],
    ])('refuses %s, naming the line', (_, text, message) => {
      expect(() => parseLine(text, 6)).toThrow(`line 6: ${message}`);
    });

    const sealedBy = (uid: string, stream: string) =>
      eventLine(
        recorded({
          streamId: stream,
          id: crypto.randomUUID(),
          data: {
            content: fakeEnvelope(uid),
          },
          metadata: { correlationId: 'c', actor: { kind: 'user', id: uid } },
        }),
      ).trimEnd();
    const erasing = (uid: string) =>
      eventLine(
        recorded({
          streamId: `user-${uid}`,
          id: crypto.randomUUID(),
          type: 'UserErased',
          data: { uid, atUs: 1 },
          metadata: { correlationId: 'c', actor: { kind: 'admin', id: 'ops' } },
          createdAt: new Date('2026-12-04T00:00:00.000Z'),
        }),
      ).trimEnd();

    it('are kept by the check, one per user whose content or erasure the file holds', async () => {
      const checked = await validateExport(
        linesOf(
          sealedBy('alice', 'a-1'),
          erasing('bob'),
          erasing('carol'),
          sealedBy('dave', 'd-1'),
          keyLine(live).trimEnd(),
          keyLine(destroyed).trimEnd(),
        ),
      );
      expect(checked).toMatchObject({ events: 4, keys: 2 });
      // carol, erased without a key line, gets a destroyed key: she stays erased
      const at = new Date('2026-12-04T00:00:00.000Z');
      expect(checked.dataKeys).toEqual([
        live,
        destroyed,
        { uid: 'carol', wrappedKey: null, createdAt: at, destroyedAt: at },
      ]);
      // dave's content comes without his key: it will not open (the import warns)
      expect(checked.keyless).toEqual(['dave']);
    });

    it.each<[string, string[], string]>([
      ['a second key of a user', [keyLine(live).trimEnd()], 'line 3: a second key of user alice'],
      [
        'a key of a user the file has nothing of',
        [keyLine({ ...live, uid: 'zed' }).trimEnd()],
        'line 3: a key of user zed, who neither sealed content in the file nor is erased by it',
      ],
      [
        'a live key of a user the file erases',
        [erasing('alice')],
        'line 2: user alice is erased in the file, but not this key',
      ],
    ])('refuse %s', async (_, more, message) => {
      await expect(
        validateExport(linesOf(sealedBy('alice', 'a-1'), keyLine(live).trimEnd(), ...more)),
      ).rejects.toThrow(message);
    });
  });

  it('reads the header and the summary', () => {
    const header = headerLine({
      format: 'im-events',
      version: 1,
      exported_at: '2026-12-05T10:00:00.000Z',
      store: 'postgres',
      filter: {},
    });
    expect(parseLine(header, 1).kind).toBe('header');
    expect(parseLine(summaryLine(3), 5)).toEqual({ kind: 'summary', events: 3 });
  });

  it.each([
    ['', 'line 4: an empty line'],
    ['{"id": ', 'line 4: not valid JSON'],
    ['[1]', 'line 4: not a JSON object'],
    ['{"format":"im-events","version":3}', 'line 4: a header of version 3'],
    ['{"error":{"message":"boom"}}', 'line 4: the export failed here'],
    [event('s-1', 0).replace('"type"', '"kind":1,"type"'), 'line 4: unknown field "kind"'],
    [event('s-1', 0).replace(ID, 'not-a-uuid'), 'line 4: "id" must be a UUID'],
    [event('$all', 0), 'line 4: "stream": streams starting with $'],
    [event('s-1', 0).replace('"revision":0', '"revision":-1'), 'line 4: "revision" must be'],
    [event('s-1', 0).replace('09:30:00.123Z', '09:30:00'), 'line 4: "created_at" must be'],
    [
      event('s-1', 0).replace(/,"data":\{.*\},"position"/, ',"position"'),
      'line 4: "data" is missing',
    ],
    [event('s-1', 0).replace('"kind":"user"', '"kind":"robot"'), 'line 4: "metadata.actor"'],
  ])('refuses a bad line, naming it: %s', (text, message) => {
    expect(() => parseLine(text, 4)).toThrow(ImportLineError);
    expect(() => parseLine(text, 4)).toThrow(message);
  });

  // PostgreSQL text and jsonb cannot hold U+0000 or a lone surrogate: written to EventStoreDB,
  // such an event would stop the projections for good when they try to store it.
  it.each<[string, unknown, Partial<EventMetadata>, string]>([
    ['data', { content: 'a\u0000b' }, {}, '"data.content" holds U+0000 (NUL)'],
    ['deep data', { a: [{ b: { c: [0, 'x\u0000'] } }] }, {}, '"data.a[0].b.c[1]" holds U+0000'],
    ['a data key', { 'k\u0000': 1 }, {}, 'a key of "data" ("k\\u0000") holds U+0000'],
    ['metadata', {}, { ip: '\u0000' }, '"metadata.ip" holds U+0000'],
    ['the actor', {}, { actor: { kind: 'user', id: 'al\u0000ice' } }, '"metadata.actor.id"'],
    ['a lone high surrogate', { content: 'a\ud83d' }, {}, '"data.content" holds an unpaired'],
    ['a lone low surrogate', { s: ['\ude00x'] }, {}, '"data.s[0]" holds an unpaired UTF-16'],
  ])(
    'refuses text PostgreSQL cannot store: U+0000 or a lone surrogate in %s',
    (_, data, meta, message) => {
      const line = eventLine(
        recorded({ data, metadata: { ...recorded().metadata, ...meta } }),
      ).trimEnd();
      expect(() => parseLine(line, 4)).toThrow(ImportLineError);
      expect(() => parseLine(line, 4)).toThrow(`line 4: ${message}`);
    },
  );

  it('refuses U+0000 in the stream or the type', () => {
    expect(() => parseLine(event('s-1\u0000x', 0), 3)).toThrow('line 3: "stream" holds U+0000');
    const typed = eventLine(recorded({ type: 'Message\u0000Sent' })).trimEnd();
    expect(() => parseLine(typed, 3)).toThrow('line 3: "type" holds U+0000');
  });

  it('accepts surrogate pairs, escaped NUL look-alikes and deep nesting', () => {
    const data = { emoji: '\ud83d\ude00 ok', text: 'a\\u0000b', deep: nest(200) };
    const parsed = parseLine(eventLine(recorded({ data })), 2);
    expect(parsed.kind === 'event' && parsed.event.data).toEqual(data);
  });

  it('finds U+0000 however deep it lies', () => {
    const line = eventLine(recorded({ data: nest(200, 'x\u0000') })).trimEnd();
    expect(() => parseLine(line, 2)).toThrow(/^line 2: "data(\.v){200}" holds U\+0000/);
  });
});

/** `{v: {v: … leaf}}`, `depth` levels deep. */
function nest(depth: number, leaf: unknown = 'leaf'): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { v: value };
  return value;
}

describe('checking an export before importing it', () => {
  const header = headerLine({
    format: 'im-events',
    version: 1,
    exported_at: '2026-12-05T10:00:00.000Z',
    store: 'postgres',
    filter: {},
  }).trimEnd();

  it('accepts streams whole from revision 0, interleaved, with a matching summary', async () => {
    const checked = await validateExport(
      linesOf(header, event('a-1', 0), event('b-1', 0), event('a-1', 1), summaryLine(3).trimEnd()),
    );
    expect(checked).toEqual({
      events: 3,
      streams: 2,
      lines: 5,
      summary: true,
      keys: 0,
      dataKeys: [],
      // alice sealed their content; the file carries no key for her
      keyless: ['alice'],
    });
  });

  it('accepts a file without header or summary', async () => {
    expect(await validateExport(linesOf(event('a-1', 0)))).toMatchObject({ summary: false });
  });

  it('refuses a file with U+0000 in an event, naming its line, before anything is written', async () => {
    const bad = eventLine(recorded({ streamId: 'b-1', data: { text: 'nul\u0000' } })).trimEnd();
    await expect(
      validateExport(linesOf(header, event('a-1', 0), bad, summaryLine(2).trimEnd())),
    ).rejects.toThrow('line 3: "data.text" holds U+0000 (NUL)');
  });

  it.each([
    [
      [event('a-1', 1)],
      'line 1: stream a-1 starts at revision 1: an import needs each stream whole',
    ],
    [[event('a-1', 0), event('a-1', 2)], 'line 2: stream a-1 goes from revision 0 to 2'],
    [
      [event('a-1', 0), event('a-1', 0)],
      'line 2: stream a-1 goes from revision 0 to 0: a repeated',
    ],
    [[event('a-1', 0), header], 'line 2: a header after the first line'],
    [[event('a-1', 0), summaryLine(2).trimEnd()], 'line 2: the summary counts 2 events'],
    [[summaryLine(0).trimEnd(), event('a-1', 0)], 'line 2: more lines after the summary'],
    [[header], 'line 1: the file holds no events'],
  ])('refuses %j', async (lines, message) => {
    await expect(validateExport(linesOf(...lines))).rejects.toThrow(message);
  });
});
