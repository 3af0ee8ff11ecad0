import type { EventStore, RecordedEvent } from '../event-store/event-store.port';
import {
  GROUP_CREATED,
  GROUP_MEMBER_ROLE_SET,
  GROUP_MEMBERS_JOINED,
  GROUP_MEMBERS_LEFT,
  GROUP_OWNER_TRANSFERRED,
} from '../groups/groups.events';
import { GroupRooms } from './group-rooms';

const T0_US = 1_720_000_000_000_000;

/** The events of group g_1's stream, at log positions 10, 20, 30, … */
function stream(...events: [type: string, data: object][]): RecordedEvent[] {
  return events.map(([type, data], i) => ({
    id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
    type,
    streamId: 'group-g_1',
    revision: i,
    position: { commit: BigInt(10 * (i + 1)), prepare: 0n },
    data: { groupId: 'g_1', atUs: T0_US, ...data },
    metadata: { actor: { kind: 'user', id: 'alice' }, correlationId: `c${i}` },
    createdAt: new Date(T0_US / 1000),
  }));
}

const created = [
  GROUP_CREATED,
  {
    members: [
      { uid: 'alice', roleLevel: 2 },
      { uid: 'bob', roleLevel: 1 },
    ],
  },
] as [string, object];

/** The edge of the unit: a store that holds one group stream. */
function storeOf(events: RecordedEvent[]): EventStore {
  return { readStream: () => Promise.resolve(events) } as unknown as EventStore;
}

describe('GroupRooms', () => {
  const everyoneOnline = () => true;

  it('loads a group as it stood before the first event routed, then follows event by event', async () => {
    // Given a stream: created (10), carol joins (20), bob leaves (30)
    const events = stream(
      created,
      [GROUP_MEMBERS_JOINED, { members: [{ uid: 'carol', roleLevel: 1 }] }],
      [GROUP_MEMBERS_LEFT, { uids: ['bob'] }],
    );
    const rooms = new GroupRooms(storeOf(events), everyoneOnline);
    // When the follower is about to route carol's join (position 20)
    await rooms.load(new Map([['g_1', events[1].position]]));
    // Then the audience is the membership before it: carol not yet, bob still
    expect(rooms.audience.ofChange('g_1', T0_US)).toEqual(['alice', 'bob']);
    // And as the follower passes the join and the leave, the room follows
    rooms.apply(events[1]);
    expect(rooms.audience.ofMessage('g_1', 1)).toEqual(['alice', 'bob', 'carol']);
    rooms.apply(events[2]);
    expect(rooms.audience.ofMessage('g_1', 2)).toEqual(['alice', 'carol']);
  });

  it('names only the connected members, and the owner and admins as managers', async () => {
    const events = stream(
      created,
      [GROUP_MEMBERS_JOINED, { members: [{ uid: 'carol', roleLevel: 1 }] }],
      [GROUP_MEMBER_ROLE_SET, { uid: 'carol', roleLevel: 3 }],
      [GROUP_OWNER_TRANSFERRED, { fromUid: 'alice', toUid: 'bob' }],
    );
    const online = new Set(['alice', 'carol']);
    const rooms = new GroupRooms(storeOf(events), (uid) => online.has(uid));
    await rooms.load(new Map([['g_1', { commit: 1_000n, prepare: 0n }]]));
    expect(rooms.audience.ofMessage('g_1', 1)).toEqual(['alice', 'carol']);
    // alice handed the ownership to bob (offline): carol, an admin, is the connected manager
    expect(rooms.audience.managers('g_1', T0_US)).toEqual(['carol']);
    // When bob connects (the sink tells the rooms), Then he is a connected manager too
    online.add('bob');
    rooms.presence('bob');
    expect([...rooms.audience.managers('g_1', T0_US)].sort()).toEqual(['bob', 'carol']);
    // And when carol's last connection goes, she is no longer in the audience
    online.delete('carol');
    rooms.presence('carol');
    expect(rooms.audience.ofMessage('g_1', 2)).toEqual(['alice', 'bob']);
  });

  it('forgets the oldest rooms past its member bound, never the one just loaded', async () => {
    // Given a bound of 3 members across rooms, and three groups of two members each
    const streams = new Map(
      ['g_a', 'g_b', 'g_c'].map((g) => [
        `group-${g}`,
        stream(created).map((e) => ({
          ...e,
          streamId: `group-${g}`,
          data: { ...(e.data as object), groupId: g },
        })),
      ]),
    );
    const store = {
      readStream: (id: string) => Promise.resolve(streams.get(id) ?? []),
    } as unknown as EventStore;
    const rooms = new GroupRooms(store, everyoneOnline, 10, 3);
    const at = { commit: 1_000n, prepare: 0n };
    // When they are loaded one after the other
    await rooms.load(new Map([['g_a', at]]));
    await rooms.load(new Map([['g_b', at]]));
    // Then the first is forgotten (4 members > 3), the second kept
    expect(rooms.audience.ofMessage('g_a', 1)).toEqual([]);
    expect(rooms.audience.ofMessage('g_b', 1)).toEqual(['alice', 'bob']);
    await rooms.load(new Map([['g_c', at]]));
    expect(rooms.audience.ofMessage('g_b', 1)).toEqual([]);
    expect(rooms.audience.ofMessage('g_c', 1)).toEqual(['alice', 'bob']);
  });

  it('leaves a group it does not hold alone, and knows nobody in it', () => {
    const rooms = new GroupRooms(storeOf([]), everyoneOnline);
    rooms.apply(stream(created)[0]);
    expect(rooms.audience.ofMessage('g_1', 1)).toEqual([]);
  });
});
