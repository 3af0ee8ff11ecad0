import type { UserDirectory } from '../../../accounts/user-directory';
import type { Clock } from '../../../core/clock';
import type { KeyRing } from '../../../crypto/key-ring';
import type { EventMetadata } from '../../../event-store/event-store.port';
import type { UserRelationsStore } from '../../user-relations.store';
import { UpdateProfileCommand } from './update-profile.command';
import { UpdateProfileHandler } from './update-profile.handler';

const META: EventMetadata = { actor: { kind: 'admin', id: 'admin-key' }, correlationId: 'c' };
const PROFILE = {
  name: 'Eve Example',
  face: 'https://img.example/eve.png',
  official_type: -1,
  system_msg_type: 0,
};

/** The handler over a relations store (the edge of the unit) and a key ring erasing `erased`. */
function handlerWith(erased: ReadonlySet<string>) {
  const written: unknown[] = [];
  const relations = {
    execute: (command: unknown) => {
      written.push(command);
      return Promise.resolve({ result: { changed: true }, position: null });
    },
  } as unknown as UserRelationsStore;
  const users = {
    exists: () => Promise.resolve(true),
    remember: () => undefined,
  } as unknown as UserDirectory;
  const clock = { nowUs: () => 1_800_000_000_000_000 } as unknown as Clock;
  const keyRing = {
    destroyedAmong: (uids: readonly string[]) =>
      Promise.resolve(new Set(uids.filter((u) => erased.has(u)))),
  } as unknown as KeyRing;
  return { handler: new UpdateProfileHandler(relations, users, clock, keyRing), written };
}

describe('UpdateProfileHandler', () => {
  it("refuses an erased user's profile with 41000: a name written now would never be redacted", async () => {
    // Given eve erased
    const { handler, written } = handlerWith(new Set(['eve']));
    // When an administrator sets her name and face
    // Then it is refused with 410 / 41000, and nothing is written
    await expect(
      handler.execute(new UpdateProfileCommand('eve', PROFILE, META)),
    ).rejects.toMatchObject({ status: 410, code: 41000 });
    expect(written).toEqual([]);
  });

  it('sets the profile of a user who is not erased', async () => {
    const { handler, written } = handlerWith(new Set(['eve']));
    await expect(
      handler.execute(new UpdateProfileCommand('bob', { ...PROFILE, name: 'Bob' }, META)),
    ).resolves.toEqual({ registered: false });
    expect(written).toEqual([
      expect.objectContaining({ kind: 'UpdateProfile', uid: 'bob', name: 'Bob' }),
    ]);
  });
});
