import { USER_ERASED } from '../../accounts/accounts.events';
import type { RecordedEvent } from '../../event-store/event-store.port';
import { fakeEnvelope } from '../../../test/support/test-keys';
import { addKeyOwners, categoryOf, matcher } from './export-events';

const at = (streamId: string, iso: string) =>
  ({ streamId, createdAt: new Date(iso) }) as RecordedEvent;

describe('export filters', () => {
  it("take a stream's category from its id up to the first dash", () => {
    expect(categoryOf('conversation-alice~bob')).toBe('conversation');
    expect(categoryOf('user-a-b')).toBe('user');
    expect(categoryOf('plain')).toBe('plain');
  });

  it('pass events of any stream or category named, within [since, until)', () => {
    const matches = matcher({
      streams: ['group-tea'],
      categories: ['user'],
      since: new Date('2026-12-01T00:00:00Z'),
      until: new Date('2026-12-02T00:00:00Z'),
    });
    expect(matches(at('group-tea', '2026-12-01T00:00:00Z'))).toBe(true);
    expect(matches(at('user-alice', '2026-12-01T23:59:59.999Z'))).toBe(true);
    expect(matches(at('group-coffee', '2026-12-01T10:00:00Z'))).toBe(false);
    expect(matches(at('user-alice', '2026-12-02T00:00:00Z'))).toBe(false);
    expect(matches(at('user-alice', '2026-11-30T23:59:59.999Z'))).toBe(false);
  });

  it('pass everything without a filter', () => {
    expect(matcher({})(at('anything-1', '1999-01-01T00:00:00Z'))).toBe(true);
  });
});

describe('the users whose data keys an export carries', () => {
  const envelope = fakeEnvelope;
  const owners = (type: string, data: unknown, actor: string) => {
    const into = new Set<string>();
    const erased = addKeyOwners({ type, data, metadata: { actor: { id: actor } } }, into);
    return { owners: [...into].sort(), erased: erased === null ? [] : [erased] };
  };

  it("are the writers of the sealed content: the actor, or the message's sender", () => {
    expect(
      owners('MessageSent', { content: envelope('alice'), senderUid: 'alice' }, 'alice'),
    ).toEqual({ owners: ['alice'], erased: [] });
    // An administrator sending for a system account
    expect(owners('MessageSent', { content: envelope('news'), senderUid: 'news' }, 'ops')).toEqual({
      owners: ['news'],
      erased: [],
    });
    // Found at any depth
    expect(owners('FileTaskCreated', { files: [{ name: envelope('bob') }] }, 'bob').owners).toEqual(
      ['bob'],
    );
  });

  it("take no one's key from an envelope-shaped text someone else wrote", () => {
    expect(owners('GroupCreated', { name: envelope('alice') }, 'mallory').owners).toEqual([]);
    expect(
      owners('MessageSent', { note: envelope('alice'), senderUid: 'mallory' }, 'mallory'),
    ).toEqual({ owners: [], erased: [] });
    expect(owners('GroupCreated', { name: 'e1.not.an.envelope' }, 'e1').owners).toEqual([]);
  });

  it('include the user an erasure erases, whose key travels destroyed', () => {
    expect(owners(USER_ERASED, { uid: 'carol', atUs: 1 }, 'ops')).toEqual({
      owners: ['carol'],
      erased: ['carol'],
    });
  });
});
