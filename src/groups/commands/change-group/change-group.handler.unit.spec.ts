import { MsgKeyGenerator } from '../../../common/ids';
import type { AppSettings } from '../../../config/app-config';
import type { Clock } from '../../../core/clock';
import type { KeyRing } from '../../../crypto/key-ring';
import type { UserDirectory } from '../../../accounts/user-directory';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { GroupCommand } from '../../domain/group';
import type { GroupStore } from '../../group.store';
import { GroupErrors } from '../../groups.errors';
import { ChangeGroupCommand, GroupChange } from './change-group.command';
import { ChangeGroupHandler } from './change-group.handler';

const META: EventMetadata = { actor: { kind: 'user', id: 'ann' }, correlationId: 'c' };

const create = (groupId: string, uid = 'ann'): GroupChange => ({
  kind: 'CreateGroup',
  groupId,
  actor: { kind: 'user', uid },
  name: 'g',
  faceUrl: '',
  introduction: '',
  notification: '',
  ex: '',
  groupType: 0,
  temporary: true,
  joinPolicy: 'open',
  ownerUid: uid,
  members: [],
});

/**
 * The handler over a group store (the edge of the unit) that finds `taken` ids already used, and
 * a key ring whose keys of `erased` users are destroyed.
 */
function handlerWith(taken: Set<string>, erased: ReadonlySet<string> = new Set()) {
  const tried: GroupCommand[] = [];
  const groups = {
    execute: (command: GroupCommand) => {
      tried.push(command);
      if (taken.has(command.groupId)) return Promise.reject(GroupErrors.exists(command.groupId));
      return Promise.resolve({
        result: { groupId: command.groupId, version: 1, outcome: 'done', results: [] },
        position: null,
      });
    },
  } as unknown as GroupStore;
  const users = { exists: () => Promise.resolve(true) } as unknown as UserDirectory;
  const clock = { nowUs: () => 1_800_000_000_000_000 } as unknown as Clock;
  let ms = 1_800_000_000_000;
  const ids = new MsgKeyGenerator(1, () => ms++);
  const settings = { config: { GROUP_MAX_MEMBERS: 100 } } as unknown as AppSettings;
  const keyRing = {
    destroyedAmong: (uids: readonly string[]) =>
      Promise.resolve(new Set(uids.filter((u) => erased.has(u)))),
  } as unknown as KeyRing;
  return {
    handler: new ChangeGroupHandler(groups, users, clock, ids, settings, keyRing),
    tried,
    ids,
  };
}

const by = (uid: string) => ({ actor: { kind: 'user' as const, uid }, groupId: 'tea' });

describe('ChangeGroupHandler', () => {
  it('generates the id of a group created without one, and keeps one the client chose', async () => {
    const { handler, tried } = handlerWith(new Set());
    const generated = await handler.execute(new ChangeGroupCommand(create(''), META));
    expect(generated.groupId).toMatch(/^\d+$/);
    const chosen = await handler.execute(new ChangeGroupCommand(create('tea'), META));
    expect(chosen.groupId).toBe('tea');
    expect(tried.map((c) => c.groupId)).toEqual([generated.groupId, 'tea']);
  });

  it('draws another id when a client already took the generated one', async () => {
    // Given a store where the first generated id is taken
    const probe = handlerWith(new Set());
    const first = (await probe.handler.execute(new ChangeGroupCommand(create(''), META))).groupId;
    const { handler, tried } = handlerWith(new Set([first]));
    // When a group is created without an id
    const created = await handler.execute(new ChangeGroupCommand(create(''), META));
    // Then the second id is used, and the two attempts were distinct commands
    expect(created.groupId).not.toBe(first);
    expect(tried.map((c) => c.groupId)).toEqual([first, created.groupId]);
    expect(tried[0].commandId).not.toBe(tried[1].commandId);
  });

  it('answers 26013 when a client-chosen id is taken (never a different id)', async () => {
    const { handler, tried } = handlerWith(new Set(['tea']));
    await expect(
      handler.execute(new ChangeGroupCommand(create('tea'), META)),
    ).rejects.toMatchObject({ code: 26013 });
    expect(tried).toHaveLength(1);
  });

  describe('for an erased user (their key destroyed)', () => {
    const erased = new Set(['eve']);

    it.each<[string, GroupChange]>([
      ['create a group', create('tea', 'eve')],
      ['set its info', { ...by('eve'), kind: 'SetGroupInfo', changes: { introduction: 'hi' } }],
      ['apply with a message', { ...by('eve'), kind: 'JoinGroup', reqMessage: 'let me in' }],
      [
        'answer an application',
        { ...by('eve'), kind: 'HandleApplication', uid: 'bob', result: -1, handledMsg: 'no' },
      ],
      [
        'kick with a reason',
        { ...by('eve'), kind: 'RemoveMembers', uids: ['bob'], reason: 'rude' },
      ],
    ])('refuses to %s with 41000: words written now would never be redacted', async (_, change) => {
      // Given eve erased
      const { handler, tried } = handlerWith(new Set(), erased);
      // When she tries to write words into a group
      // Then it is refused with 410 / 41000 and nothing reaches the group
      await expect(handler.execute(new ChangeGroupCommand(change, META))).rejects.toMatchObject({
        status: 410,
        code: 41000,
      });
      expect(tried).toEqual([]);
    });

    it.each<[string, GroupChange]>([
      ['quit', { ...by('eve'), kind: 'QuitGroup' }],
      ['join without a message', { ...by('eve'), kind: 'JoinGroup', reqMessage: '' }],
      [
        'set only the join policy',
        { ...by('eve'), kind: 'SetGroupInfo', changes: { joinPolicy: 'open' } },
      ],
    ])('lets her %s: no words of hers', async (_, change) => {
      const { handler, tried } = handlerWith(new Set(), erased);
      await handler.execute(new ChangeGroupCommand(change, META));
      expect(tried.map((c) => c.kind)).toEqual([change.kind]);
    });

    it('lets others, and administrators, write as before', async () => {
      const { handler, tried } = handlerWith(new Set(), erased);
      await handler.execute(
        new ChangeGroupCommand({ ...by('bob'), kind: 'JoinGroup', reqMessage: 'hello' }, META),
      );
      await handler.execute(
        new ChangeGroupCommand(
          {
            actor: { kind: 'admin' },
            groupId: 'tea',
            kind: 'SetGroupInfo',
            changes: { name: 'x' },
          },
          META,
        ),
      );
      expect(tried).toHaveLength(2);
    });
  });
});
