import type { EventData, ExpectedRevision } from './event-store.port';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The checks every adapter makes before writing anything: a stream name of ours (names starting
 * with `$` belong to the store), at least one event, a sane expected revision, UUID event ids
 * that are not repeated within the append, and a type on every event.
 * @throws TypeError naming what is wrong.
 */
export function validateAppend(
  streamId: string,
  events: readonly EventData[],
  expected: ExpectedRevision,
): void {
  if (!streamId || streamId.startsWith('$')) {
    throw new TypeError(`invalid stream id: ${JSON.stringify(streamId)}`);
  }
  if (events.length === 0) throw new TypeError('an append needs at least one event');
  if (typeof expected === 'number' && (!Number.isSafeInteger(expected) || expected < 0)) {
    throw new TypeError(`invalid expected revision: ${expected}`);
  }
  const seen = new Set<string>();
  for (const e of events) {
    if (!UUID.test(e.id)) throw new TypeError(`event id is not a UUID: ${e.id}`);
    const id = e.id.toLowerCase();
    if (seen.has(id)) throw new TypeError(`event id repeated within one append: ${e.id}`);
    seen.add(id);
    if (!e.type) throw new TypeError('event type is required');
  }
}
