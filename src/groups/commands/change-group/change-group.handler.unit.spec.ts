import { MsgKeyGenerator } from '../../../common/ids';
import type { AppSettings } from '../../../config/app-config';
import type { Clock } from '../../../core/clock';
import type { UserDirectory } from '../../../accounts/user-directory';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { GroupCommand } from '../../domain/group';
import type { GroupStore } from '../../group.store';
import { GroupErrors } from '../../groups.errors';
import { ChangeGroupCommand, GroupChange } from './change-group.command';
import { ChangeGroupHandler } from './change-group.handler';

const META: EventMetadata = { actor: { kind: 'user', id: 'ann' }, correlationId: 'c' };

const create = (groupId: string): GroupChange => ({
  kind: 'CreateGroup',
  groupId,
  actor: { kind: 'user', uid: 'ann' },
  name: 'g',
  faceUrl: '',
  introduction: '',
  notification: '',
  ex: '',
  groupType: 0,
  temporary: true,
  joinPolicy: 'open',
  ownerUid: 'ann',
  members: [],
});

/** The handler over a group store (the edge of the unit) that finds `taken` ids already used. */
function handlerWith(taken: Set<string>) {
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
  return { handler: new ChangeGroupHandler(groups, users, clock, ids, settings), tried, ids };
}

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
});
