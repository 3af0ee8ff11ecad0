import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, TestApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const text = (t: string) => JSON.stringify({ content: t });

interface Group {
  group_id: string;
  name: string;
  temporary: boolean;
  join_policy: string;
  status: number;
  owner_uid: string;
  creator_uid: string | null;
  member_count: number;
  version: number;
  max_seqno: number;
}

interface Member {
  uid: string;
  role_level: number;
  member_seq: number;
  join_how: string;
  muted_until: number;
}

interface Application {
  group_id: string;
  uid: string;
  req_message: string;
  status: number;
  handled_msg: string;
  handled_by: string | null;
}

interface Changed {
  group_id: string;
  version: number;
  outcome: string;
  results: { uid: string; result: number; code?: number; reason?: string }[];
}

interface Message {
  sender_uid: string;
  receiver_type: number;
  receiver_id: string;
  msg_seqno: number;
  msg_key: string;
  content: string;
  at_uids: string[] | null;
}

interface Session {
  talker_id: string;
  session_type: number;
  at_seqno: number;
  group_name: string;
  ack_seqno: number;
  max_seqno: number;
  unread_count: number;
  last_msg: Message | null;
}

/** The native group API end to end: lifecycle, members, messages, sessions, history and sync. */
describe('groups over HTTP', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  /** Tokens of the users registered so far, for requests built synchronously. */
  const tokens = new Map<string, string>();
  const users = async (...uids: string[]) => {
    await Promise.all(
      uids.map(async (uid) => {
        tokens.set(uid, await t.user(uid));
      }),
    );
  };
  const auth = (uid: string): string => {
    const token = tokens.get(uid);
    if (!token) throw new Error(`${uid} is not registered yet`);
    return `Bearer ${token}`;
  };
  const rejects = (req: request.Test, status: number, code: number) => t.rejects(req, status, code);

  const get = (uid: string, path: string, query: Record<string, unknown> = {}) =>
    request(t.url).get(path).query(query).set('Authorization', auth(uid));
  const post = (uid: string, path: string, body: object = {}) =>
    request(t.url).post(path).set('Authorization', auth(uid)).send(body);
  const put = (uid: string, path: string, body: object = {}) =>
    request(t.url).put(path).set('Authorization', auth(uid)).send(body);
  const patch = (uid: string, path: string, body: object = {}) =>
    request(t.url).patch(path).set('Authorization', auth(uid)).send(body);
  const del = (uid: string, path: string) =>
    request(t.url).delete(path).set('Authorization', auth(uid));

  const admin = {
    get: (path: string, query: Record<string, unknown> = {}) =>
      request(t.url).get(path).query(query).set('X-Admin-Key', t.adminKey),
    post: (path: string, body: object = {}) =>
      request(t.url).post(path).set('X-Admin-Key', t.adminKey).send(body),
    put: (path: string, body: object = {}) =>
      request(t.url).put(path).set('X-Admin-Key', t.adminKey).send(body),
    del: (path: string) => request(t.url).delete(path).set('X-Admin-Key', t.adminKey),
  };

  const G = '/api/v1/groups';

  /** Expects the status and returns the body. */
  async function ok<T>(req: request.Test, status = 200): Promise<T> {
    const res = await req;
    expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status });
    return res.body as T;
  }

  /** `owner` creates a group (registering everyone named); returns its id. */
  async function createGroup(
    owner: string,
    groupId: string,
    members: { uid: string; role_level?: 1 | 3 }[] = [],
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    await users(owner, ...members.map((m) => m.uid));
    const body = await ok<Changed>(
      post(owner, G, { group_id: groupId, name: `name of ${groupId}`, members, ...extra }),
      201,
    );
    expect(body).toMatchObject({ group_id: groupId, version: 1 });
    return groupId;
  }

  /** The group as GET /api/v1/groups?ids= shows it (any registered user may read). */
  async function groupInfo(asUid: string, groupId: string): Promise<Group | undefined> {
    const body = await ok<{ groups: Group[] }>(get(asUid, G, { ids: groupId }));
    return body.groups[0];
  }

  async function groupWhen(
    asUid: string,
    groupId: string,
    cond: (g: Group) => boolean,
    what: string,
  ): Promise<Group> {
    let found: Group | undefined;
    await waitFor(async () => {
      found = await groupInfo(asUid, groupId);
      return found !== undefined && cond(found);
    }, what);
    return found!;
  }

  /** Every current member, page by page (pages of `size`), as `asUid` reads them. */
  async function allMembers(
    asUid: string,
    groupId: string,
    query: Record<string, unknown> = {},
  ): Promise<{ members: Member[]; pages: number[] }> {
    const members: Member[] = [];
    const pages: number[] = [];
    let cursor: number | null = null;
    do {
      const body: { members: Member[]; next_cursor: number | null } = await ok(
        get(asUid, `${G}/${groupId}/members`, {
          ...query,
          ...(cursor !== null ? { cursor } : {}),
        }),
      );
      members.push(...body.members);
      pages.push(body.members.length);
      cursor = body.next_cursor;
      if (pages.length > 20) throw new Error('the member list never ends');
    } while (cursor !== null);
    return { members, pages };
  }

  /** The named users that are members now, as the owner reads them (projection). */
  async function membersNamed(asUid: string, groupId: string, uids: string[]) {
    const body = await ok<{ members: Member[] }>(
      post(asUid, `${G}/${groupId}/members/query`, { uids }),
    );
    return body.members;
  }

  const sendTo = (from: string, groupId: string, words = 'hi', atUids?: string[]) =>
    post(from, '/api/v1/messages', {
      receiver_id: groupId,
      receiver_type: 2,
      msg_type: 1,
      content: text(words),
      dev_id: randomUUID(),
      ...(atUids ? { at_uids: atUids } : {}),
    });

  /** `from` sends to the group; returns the seqno. */
  async function send(from: string, groupId: string, words = 'hi', atUids?: string[]) {
    const body = await ok<{ msg_seqno: number; msg_key: string }>(
      sendTo(from, groupId, words, atUids),
      201,
    );
    return body;
  }

  async function sessionWhen(
    owner: string,
    groupId: string,
    cond: (s: Session) => boolean,
    what: string,
  ): Promise<Session> {
    let found: Session | undefined;
    await waitFor(async () => {
      const res = await get(owner, `/api/v1/sessions/2/${groupId}`);
      found = res.status === 200 ? (res.body as Session) : undefined;
      return found !== undefined && cond(found);
    }, what);
    return found!;
  }

  const history = async (uid: string, groupId: string): Promise<Message[]> =>
    (
      await ok<{ messages: Message[] }>(
        get(uid, `/api/v1/sessions/2/${groupId}/messages`, { size: 50 }),
      )
    ).messages;

  const seqnos = (ms: Message[]) => ms.map((m) => m.msg_seqno).sort((a, b) => a - b);

  describe('lifecycle', () => {
    it('creates a temporary group for a user, with its members, at version 1', async () => {
      // Given a user and two others, one of them an admin
      const gid = await createGroup('lc-o', 'lc_create', [
        { uid: 'lc-a', role_level: 3 },
        { uid: 'lc-m' },
      ]);
      // Then the group shows three members, its owner, temporary, version 1
      const g = await groupWhen('lc-m', gid, () => true, 'the group projected');
      expect(g).toMatchObject({
        group_id: gid,
        name: 'name of lc_create',
        owner_uid: 'lc-o',
        creator_uid: 'lc-o',
        member_count: 3,
        temporary: true,
        version: 1,
        status: 0,
        join_policy: 'approval',
      });
      // And the roles are as asked
      const { members } = await allMembers('lc-o', gid);
      expect(members.map((m) => [m.uid, m.role_level])).toEqual([
        ['lc-o', 2],
        ['lc-a', 3],
        ['lc-m', 1],
      ]);
    });

    it('refuses a normal group to a user (26014) and creates one for an administrator', async () => {
      await users('lc2-o', 'lc2-m');
      // When a user asks for temporary: false, Then 403 26014 and nothing is written
      await rejects(post('lc2-o', G, { group_id: 'lc_normal_u', temporary: false }), 403, 26014);
      // When an administrator creates one for lc2-o
      const body = await ok<Changed>(
        admin.post('/admin/v1/groups', {
          group_id: 'lc_normal',
          name: 'normal',
          owner_uid: 'lc2-o',
          members: [{ uid: 'lc2-m' }],
        }),
        201,
      );
      expect(body).toMatchObject({ group_id: 'lc_normal', version: 1 });
      // Then it is not temporary, owned by lc2-o, created by no user
      const g = await groupWhen('lc2-m', 'lc_normal', () => true, 'the normal group');
      expect(g).toMatchObject({
        temporary: false,
        owner_uid: 'lc2-o',
        creator_uid: null,
        member_count: 2,
      });
      // And the admin read of it agrees
      expect(await ok<Group>(admin.get('/admin/v1/groups/lc_normal'))).toMatchObject({
        group_id: 'lc_normal',
        temporary: false,
      });
    });

    it('refuses a taken group id (26013) and unknown initial members (40401), writing nothing', async () => {
      const gid = await createGroup('dup-o', 'dup_group');
      await users('dup-x');
      await rejects(post('dup-x', G, { group_id: gid }), 409, 26013);
      await rejects(post('dup-x', G, { members: [{ uid: 'dup-nobody' }] }), 404, 40401);
    });

    it('lists every group for administrators, newest first, paged by cursor', async () => {
      for (const n of ['ls_1', 'ls_2', 'ls_3']) await createGroup('ls-o', n);
      await groupWhen('ls-o', 'ls_3', () => true, 'the newest group');
      const first = await ok<{ groups: Group[]; total: number; next_cursor: string | null }>(
        admin.get('/admin/v1/groups', { size: 2 }),
      );
      expect(first.groups.map((g) => g.group_id)).toEqual(['ls_3', 'ls_2']);
      expect(first.next_cursor).not.toBeNull();
      const second = await ok<{ groups: Group[]; total: number }>(
        admin.get('/admin/v1/groups', { size: 2, cursor: first.next_cursor }),
      );
      expect(second.groups[0].group_id).toBe('ls_1');
      expect(second.total).toBe(first.total);
      // And a search by name (any case) finds only the matching groups, with their count
      const found = await ok<{ groups: Group[]; total: number; next_cursor: string | null }>(
        admin.get('/admin/v1/groups', { name: 'LS_2' }),
      );
      expect(found).toMatchObject({ total: 1, next_cursor: null });
      expect(found.groups.map((g) => g.group_id)).toEqual(['ls_2']);
    });

    it('lets an admin-role member set the info and refuses a plain member with 26003', async () => {
      const gid = await createGroup('si-o', 'si_group', [
        { uid: 'si-a', role_level: 3 },
        { uid: 'si-m' },
      ]);
      // When the admin-role member renames the group, Then the version goes to 2
      const changed = await ok<Changed>(patch('si-a', `${G}/${gid}`, { name: 'renamed' }));
      expect(changed).toMatchObject({ group_id: gid, version: 2, outcome: 'done' });
      const g = await groupWhen('si-m', gid, (x) => x.version === 2, 'version 2');
      expect(g.name).toBe('renamed');
      // When a plain member tries, Then 403 26003 and nothing is written
      await rejects(patch('si-m', `${G}/${gid}`, { name: 'mine' }), 403, 26003);
      expect((await groupInfo('si-m', gid))!.name).toBe('renamed');
    });

    it('joins an open group at once and an approval group as an application the owner handles', async () => {
      // Given an open group and an approval group of the same owner
      const open = await createGroup('jp-o', 'jp_open', [], { join_policy: 'open' });
      const appr = await createGroup('jp-o', 'jp_appr', [], { join_policy: 'approval' });
      await users('jp-j', 'jp-ap', 'jp-rf');
      // When a user joins the open group, Then they are in at once
      expect(await ok<Changed>(post('jp-j', `${G}/${open}/join`))).toMatchObject({
        outcome: 'joined',
        version: 2,
      });
      await waitFor(
        async () => (await membersNamed('jp-o', open, ['jp-j'])).length === 1,
        'the joiner among the members',
      );
      // When two users ask to join the approval group, Then both are applications
      for (const uid of ['jp-ap', 'jp-rf']) {
        expect(
          await ok<Changed>(post(uid, `${G}/${appr}/join`, { req_message: `let ${uid} in` })),
        ).toMatchObject({ outcome: 'applied' });
      }
      expect(await membersNamed('jp-o', appr, ['jp-ap', 'jp-rf'])).toEqual([]);
      // And the owner's received list and the applicant's sent list show the application
      let received: Application[] = [];
      await waitFor(async () => {
        received = (
          await ok<{ applications: Application[] }>(get('jp-o', `${G}/applications/received`))
        ).applications;
        return received.length === 2;
      }, 'two applications received');
      expect(received.map((a) => a.uid).sort()).toEqual(['jp-ap', 'jp-rf']);
      expect(received.find((a) => a.uid === 'jp-ap')).toMatchObject({
        group_id: appr,
        req_message: 'let jp-ap in',
        status: 0,
      });
      const sent = await ok<{ applications: Application[] }>(
        get('jp-ap', `${G}/applications/sent`),
      );
      expect(sent.applications).toEqual([
        expect.objectContaining({ group_id: appr, uid: 'jp-ap', status: 0 }),
      ]);
      // When the owner accepts one and refuses the other
      await ok(post('jp-o', `${G}/${appr}/applications/jp-ap`, { result: 1, handled_msg: 'hi' }));
      await ok(post('jp-o', `${G}/${appr}/applications/jp-rf`, { result: -1, handled_msg: 'no' }));
      // Then the accepted one is a member, the refused one is not
      await waitFor(
        async () => (await membersNamed('jp-o', appr, ['jp-ap'])).length === 1,
        'the accepted applicant among the members',
      );
      expect(await membersNamed('jp-o', appr, ['jp-rf'])).toEqual([]);
      // And the sent lists say accepted (1) and refused (-1), and nothing is pending any more
      await waitFor(async () => {
        const s = await ok<{ applications: Application[] }>(get('jp-rf', `${G}/applications/sent`));
        return s.applications[0]?.status === -1;
      }, 'the refusal in the sent list');
      const refused = await ok<{ applications: Application[] }>(
        get('jp-rf', `${G}/applications/sent`),
      );
      expect(refused.applications[0]).toMatchObject({
        group_id: appr,
        status: -1,
        handled_msg: 'no',
        handled_by: 'jp-o',
      });
      const accepted = await ok<{ applications: Application[] }>(
        get('jp-ap', `${G}/applications/sent`),
      );
      expect(accepted.applications[0]).toMatchObject({ status: 1, handled_msg: 'hi' });
      expect(
        (await ok<{ applications: Application[] }>(get('jp-o', `${G}/applications/received`)))
          .applications,
      ).toEqual([]);
    });

    it('pages the pending applications of my groups by cursor, newest first', async () => {
      // Given three approval groups of one owner, each with an application
      const owned = ['ap_p1', 'ap_p2', 'ap_p3'];
      for (const gid of owned) await createGroup('ap-o', gid, [], { join_policy: 'approval' });
      await users('ap-x');
      for (const gid of owned) await ok(post('ap-x', `${G}/${gid}/join`, { req_message: gid }));
      await waitFor(
        async () =>
          (await ok<{ applications: Application[] }>(get('ap-o', `${G}/applications/received`)))
            .applications.length === 3,
        'three pending applications',
      );
      // When the owner pages them one at a time
      const seen: string[] = [];
      let cursor: string | null | undefined;
      do {
        const page: { applications: Application[]; next_cursor: string | null } = await ok(
          get('ap-o', `${G}/applications/received`, { size: 1, ...(cursor ? { cursor } : {}) }),
        );
        seen.push(...page.applications.map((a) => a.group_id));
        cursor = page.next_cursor;
      } while (cursor);
      // Then each comes once, newest first, and the applicant's own list pages alike
      expect(seen).toEqual([...owned].reverse());
      const sent: { applications: Application[]; next_cursor: string | null } = await ok(
        get('ap-x', `${G}/applications/sent`, { size: 2 }),
      );
      expect(sent.applications.map((a) => a.group_id)).toEqual(['ap_p3', 'ap_p2']);
      const rest: { applications: Application[]; next_cursor: string | null } = await ok(
        get('ap-x', `${G}/applications/sent`, { size: 2, cursor: sent.next_cursor }),
      );
      expect(rest).toMatchObject({ next_cursor: null });
      expect(rest.applications.map((a) => a.group_id)).toEqual(['ap_p1']);
      await rejects(get('ap-x', `${G}/applications/sent`, { cursor: 'nonsense' }), 400, 40000);
    });

    it('refuses a join of an invite-only group with 26009, writing nothing', async () => {
      const gid = await createGroup('io-o', 'io_group', [], { join_policy: 'invite_only' });
      await users('io-x');
      await rejects(post('io-x', `${G}/${gid}/join`), 403, 26009);
    });

    it('answers invitations user by user: unknown users and members are refused', async () => {
      const gid = await createGroup('inv-o', 'inv_group', [{ uid: 'inv-m' }]);
      await users('inv-new');
      // When the owner invites a new user, an unknown one and a member
      const body = await ok<Changed>(
        post('inv-o', `${G}/${gid}/invitations`, {
          uids: ['inv-new', 'inv-nobody', 'inv-m'],
        }),
      );
      // Then only the new user is added, each with their own result
      expect(body.results).toEqual([
        { uid: 'inv-new', result: 0 },
        expect.objectContaining({ uid: 'inv-nobody', result: -1, code: 40401 }),
        expect.objectContaining({ uid: 'inv-m', result: -1, code: 26007 }),
      ]);
      expect(body.version).toBe(2);
      await waitFor(
        async () => (await groupInfo('inv-o', gid))?.member_count === 3,
        'three members',
      );
    });

    it('lets only owners and admins kick, never the owner, and admins only by the owner', async () => {
      const gid = await createGroup('k-o', 'k_group', [
        { uid: 'k-a', role_level: 3 },
        { uid: 'k-m' },
        { uid: 'k-n' },
      ]);
      // When a plain member kicks, Then 403 26003 and nothing is written
      await rejects(post('k-m', `${G}/${gid}/kicks`, { uids: ['k-n'] }), 403, 26003);
      // When the admin kicks the owner and a member, Then the owner is refused, the member goes
      const byAdmin = await ok<Changed>(
        post('k-a', `${G}/${gid}/kicks`, { uids: ['k-o', 'k-n'], reason: 'spam' }),
      );
      expect(byAdmin.results).toEqual([
        expect.objectContaining({ uid: 'k-o', result: -1, code: 26003 }),
        { uid: 'k-n', result: 0 },
      ]);
      // When the owner kicks the admin, Then the admin goes
      const byOwner = await ok<Changed>(post('k-o', `${G}/${gid}/kicks`, { uids: ['k-a'] }));
      expect(byOwner.results).toEqual([{ uid: 'k-a', result: 0 }]);
      await waitFor(
        async () => (await groupInfo('k-o', gid))?.member_count === 2,
        'two members left',
      );
      const { members } = await allMembers('k-o', gid);
      expect(members.map((m) => m.uid)).toEqual(['k-o', 'k-m']);
    });

    it('makes the owner transfer before quitting (26008)', async () => {
      const gid = await createGroup('q-o', 'q_group', [{ uid: 'q-m' }]);
      // When the owner quits, Then 409 26008 and nothing is written
      await rejects(post('q-o', `${G}/${gid}/quit`), 409, 26008);
      // When the owner transfers to q-m and quits
      await ok(put('q-o', `${G}/${gid}/owner`, { uid: 'q-m' }));
      await ok(post('q-o', `${G}/${gid}/quit`));
      // Then q-m owns the group alone
      const g = await groupWhen('q-m', gid, (x) => x.member_count === 1, 'one member left');
      expect(g.owner_uid).toBe('q-m');
      const { members } = await allMembers('q-m', gid);
      expect(members.map((m) => [m.uid, m.role_level])).toEqual([['q-m', 2]]);
    });

    it("never changes the owner's role: not by an admin member, not by an administrator (26003)", async () => {
      const gid = await createGroup('r-o', 'r_group', [
        { uid: 'r-a', role_level: 3 },
        { uid: 'r-m' },
      ]);
      await rejects(put('r-a', `${G}/${gid}/members/r-o/role`, { role_level: 1 }), 403, 26003);
      await rejects(
        admin.put(`/admin/v1/groups/${gid}/members/r-o/role`, { role_level: 1 }),
        403,
        26003,
      );
      // And the owner may make a member an admin
      expect(
        await ok<Changed>(put('r-o', `${G}/${gid}/members/r-m/role`, { role_level: 3 })),
      ).toMatchObject({ version: 2, outcome: 'done' });
    });

    it('mutes a member, then lets them speak again', async () => {
      const gid = await createGroup('mu-o', 'mu_group', [{ uid: 'mu-m' }]);
      // When the owner mutes mu-m for 60 s, Then their sends are refused with 26006
      await ok(put('mu-o', `${G}/${gid}/members/mu-m/mute`, { muted_seconds: 60 }));
      await rejects(sendTo('mu-m', gid), 403, 26006);
      // And the member list shows the mute
      await waitFor(async () => {
        const [m] = await membersNamed('mu-o', gid, ['mu-m']);
        return m !== undefined && m.muted_until > Date.now();
      }, 'the mute in the member list');
      // When the owner lifts it (0), Then mu-m sends
      await ok(put('mu-o', `${G}/${gid}/members/mu-m/mute`, { muted_seconds: 0 }));
      await send('mu-m', gid);
    });

    it('mutes the whole group for plain members only, bans it, then dismisses it', async () => {
      const gid = await createGroup('st-o', 'st_group', [
        { uid: 'st-a', role_level: 3 },
        { uid: 'st-m' },
      ]);
      // When the owner mutes the group (3), Then a plain member is refused 26005, the admin speaks
      await ok(put('st-o', `${G}/${gid}/status`, { status: 3 }));
      await rejects(sendTo('st-m', gid), 403, 26005);
      await send('st-a', gid);
      await ok(put('st-o', `${G}/${gid}/status`, { status: 0 }));
      await send('st-m', gid);
      // When an administrator bans it (1), Then every send is refused with 26012
      await ok(admin.put(`/admin/v1/groups/${gid}/status`, { status: 1 }));
      await rejects(sendTo('st-m', gid), 403, 26012);
      await rejects(sendTo('st-o', gid), 403, 26012);
      // And the owner cannot lift a ban (26014)
      await rejects(put('st-o', `${G}/${gid}/status`, { status: 0 }), 403, 26014);
      await ok(admin.put(`/admin/v1/groups/${gid}/status`, { status: 0 }));
      // When the owner dismisses it, Then sends and info changes are refused with 410 26004
      await ok(del('st-o', `${G}/${gid}`));
      await rejects(sendTo('st-m', gid), 410, 26004);
      await rejects(sendTo('st-o', gid), 410, 26004);
      await rejects(patch('st-o', `${G}/${gid}`, { name: 'again' }), 410, 26004);
      await groupWhen('st-o', gid, (g) => g.status === 2, 'status dismissed');
    });
  });

  describe('member lists', () => {
    const many = Array.from({ length: 250 }, (_, i) => `ml-u${String(i).padStart(3, '0')}`);

    it('pages 251 members by member_seq in join order, and filters by role', async () => {
      // Given an approval group with an admin, and 250 users added by an administrator
      const gid = await createGroup('ml-o', 'ml_group', [{ uid: 'ml-a', role_level: 3 }]);
      for (let i = 0; i < many.length; i += 50) await users(...many.slice(i, i + 50));
      const added = await ok<{ success: string[]; failed: string[] }>(
        admin.post(`/admin/v1/groups/${gid}/members`, { uids: [...many, 'ml-nobody', 'ml-a'] }),
      );
      expect(added.success).toEqual(many);
      expect(added.failed).toEqual(['ml-nobody', 'ml-a']);
      await groupWhen('ml-o', gid, (g) => g.member_count === 252, '252 members');
      // When the owner reads the list page by page (100 by default)
      const { members, pages } = await allMembers('ml-o', gid);
      // Then pages of 100 until the last, every member once, in join order
      expect(pages).toEqual([100, 100, 52]);
      expect(members.map((m) => m.uid)).toEqual(['ml-o', 'ml-a', ...many]);
      expect(new Set(members.map((m) => m.uid)).size).toBe(252);
      const seqs = members.map((m) => m.member_seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(252);
      expect(members.slice(2).every((m) => m.join_how === 'added')).toBe(true);
      // When one of the added becomes an admin, Then role_level=3 lists exactly the admins
      await ok(admin.put(`/admin/v1/groups/${gid}/members/${many[7]}/role`, { role_level: 3 }));
      await waitFor(async () => {
        const admins = (await allMembers('ml-o', gid, { role_level: 3 })).members;
        return admins.length === 2;
      }, 'two admins');
      const admins = (await allMembers('ml-o', gid, { role_level: 3 })).members;
      expect(admins.map((m) => [m.uid, m.role_level])).toEqual([
        ['ml-a', 3],
        [many[7], 3],
      ]);
      // And the administrators' list agrees on the first page
      const adminPage = await ok<{ members: Member[]; next_cursor: number | null }>(
        admin.get(`/admin/v1/groups/${gid}/members`, { size: 10 }),
      );
      expect(adminPage.members.map((m) => m.uid)).toEqual(['ml-o', 'ml-a', ...many.slice(0, 8)]);
      expect(adminPage.next_cursor).toBe(adminPage.members[9].member_seq);
    });

    it('shows the members of an open group to anyone, of others only to members (26002)', async () => {
      const closed = await createGroup('mr-o', 'mr_closed', [{ uid: 'mr-m' }]);
      const open = await createGroup('mr-o', 'mr_open', [{ uid: 'mr-m' }], {
        join_policy: 'open',
      });
      await users('mr-x');
      await rejects(get('mr-x', `${G}/${closed}/members`), 403, 26002);
      await rejects(post('mr-x', `${G}/${closed}/members/query`, { uids: ['mr-m'] }), 403, 26002);
      await waitFor(
        async () => (await allMembers('mr-x', open)).members.length === 2,
        'the open group members',
      );
      // And a member reads the closed group's list
      expect((await allMembers('mr-m', closed)).members.map((m) => m.uid)).toEqual([
        'mr-o',
        'mr-m',
      ]);
    });
  });

  describe('group messages and sessions', () => {
    it('counts unread per member, keeps the sender read, and clears on ack', async () => {
      const gid = await createGroup('gm-a', 'gm_group', [{ uid: 'gm-b' }, { uid: 'gm-c' }]);
      // When A sends
      const m1 = await send('gm-a', gid, 'hello group');
      expect(m1.msg_seqno).toBe(1);
      // Then B's session list has the group session with one unread and the message
      let s: Session | undefined;
      await waitFor(async () => {
        const page = await ok<{ session_list: Session[] }>(get('gm-b', '/api/v1/sessions'));
        s = page.session_list.find((x) => x.session_type === 2 && x.talker_id === gid);
        return s !== undefined && s.max_seqno === 1;
      }, "the group session in B's list");
      expect(s).toMatchObject({
        talker_id: gid,
        session_type: 2,
        unread_count: 1,
        group_name: 'name of gm_group',
        at_seqno: 0,
      });
      expect(s!.last_msg).toMatchObject({
        msg_seqno: 1,
        msg_key: m1.msg_key,
        sender_uid: 'gm-a',
        receiver_type: 2,
        receiver_id: gid,
        content: text('hello group'),
      });
      // And A's own session has nothing unread
      const a = await sessionWhen(
        'gm-a',
        gid,
        (x) => x.max_seqno === 1 && x.ack_seqno === 1,
        'A read',
      );
      expect(a.unread_count).toBe(0);
      // When B acks it, Then B has nothing unread
      expect(await ok(put('gm-b', `/api/v1/sessions/2/${gid}/ack`, { ack_seqno: 1 }))).toEqual({
        ack_seqno: 1,
        changed: true,
      });
      await sessionWhen('gm-b', gid, (x) => x.unread_count === 0, 'B read up to 1');
    });

    it('marks a mention in the mentioned session until read, and @all only from managers', async () => {
      const gid = await createGroup('at-a', 'at_group', [{ uid: 'at-b' }, { uid: 'at-c' }]);
      // When A mentions C
      const m = await send('at-a', gid, 'look, C', ['at-c']);
      // Then C's session has at_seqno = that message while unread, B's none
      await sessionWhen('at-c', gid, (x) => x.at_seqno === m.msg_seqno, "C's mention");
      const b = await sessionWhen('at-b', gid, (x) => x.max_seqno === m.msg_seqno, 'B sees it');
      expect(b.at_seqno).toBe(0);
      // When C acks it, Then the mention is gone
      await ok(put('at-c', `/api/v1/sessions/2/${gid}/ack`, { ack_seqno: m.msg_seqno }));
      await sessionWhen('at-c', gid, (x) => x.at_seqno === 0 && x.unread_count === 0, 'C read');
      // When plain member B mentions everyone, Then 403 26003 and nothing is written
      await rejects(sendTo('at-b', gid, 'all of you', ['@all']), 403, 26003);
      // When the owner does, Then every other member's session has the mention
      const all = await send('at-a', gid, 'everyone', ['@all']);
      for (const uid of ['at-b', 'at-c']) {
        await sessionWhen(uid, gid, (x) => x.at_seqno === all.msg_seqno, `${uid} mentioned`);
      }
    });

    it("counts the unread of the groups one owns (MyGroupUnread), not of others'", async () => {
      const mine = await createGroup('ou-a', 'ou_mine', [{ uid: 'ou-b' }]);
      const theirs = await createGroup('ou-b', 'ou_theirs', [{ uid: 'ou-a' }]);
      // When B writes twice in A's group and once in B's own
      await send('ou-b', mine, 'one');
      await send('ou-b', mine, 'two');
      await send('ou-b', theirs, 'three');
      // Then A's owned unread counts the two in A's group only
      await sessionWhen('ou-a', theirs, (x) => x.unread_count === 1, 'A sees B’s group message');
      await waitFor(async () => {
        const body = await ok<{ unread_count: number }>(get('ou-a', `${G}/owned/unread`));
        return body.unread_count === 2;
      }, 'two unread in the owned group');
      // And B, who owns a group whose one message is B's own, has none
      await sessionWhen('ou-b', theirs, (x) => x.ack_seqno === 1, 'B read up to its own');
      expect(await ok(get('ou-b', `${G}/owned/unread`))).toEqual({ unread_count: 0 });
      // When A writes in A's group (reading up to it), Then nothing owned is unread
      await send('ou-a', mine, 'mine');
      await sessionWhen(
        'ou-a',
        mine,
        (x) => x.max_seqno === 3 && x.ack_seqno === 3,
        'A read up to 3',
      );
      expect(await ok(get('ou-a', `${G}/owned/unread`))).toEqual({ unread_count: 0 });
    });
  });

  describe('history from the join (TeamTalk)', () => {
    it('shows members only the messages after their join and none after they left', async () => {
      // Given an open group of A and B, and A's first two messages
      const gid = await createGroup('h-a', 'h_group', [{ uid: 'h-b' }], { join_policy: 'open' });
      await users('h-d', 'h-e', 'h-x');
      await send('h-a', gid, 'm1');
      await send('h-a', gid, 'm2');
      // When D joins and E is invited, and A sends m3
      await ok(post('h-d', `${G}/${gid}/join`));
      await ok(post('h-a', `${G}/${gid}/invitations`, { uids: ['h-e'] }));
      const m3 = await send('h-a', gid, 'm3');
      // Then D's and E's history hold m3 only
      for (const uid of ['h-d', 'h-e']) {
        await waitFor(
          async () => (await history(uid, gid)).some((m) => m.msg_seqno === m3.msg_seqno),
          `m3 in ${uid}'s history`,
        );
        const h = await history(uid, gid);
        expect(h.map((m) => [m.msg_seqno, m.content])).toEqual([[3, text('m3')]]);
      }
      // And D has one unread, not three
      const d = await sessionWhen('h-d', gid, (x) => x.max_seqno === 3, "D's session at m3");
      expect(d.unread_count).toBe(1);
      // When B is kicked after m3 and A sends m4
      await ok(post('h-a', `${G}/${gid}/kicks`, { uids: ['h-b'] }));
      await groupWhen('h-a', gid, (g) => g.member_count === 3, 'B gone from the read model');
      const m4 = await send('h-a', gid, 'm4');
      await waitFor(
        async () => (await history('h-d', gid)).some((m) => m.msg_seqno === m4.msg_seqno),
        "m4 in D's history",
      );
      // Then B's history ends at m3, and B can no longer send
      expect(seqnos(await history('h-b', gid))).toEqual([1, 2, 3]);
      await rejects(sendTo('h-b', gid), 403, 26002);
      // And B's read progress cannot pass where B left
      await rejects(
        put('h-b', `/api/v1/sessions/2/${gid}/ack`, { ack_seqno: m4.msg_seqno }),
        400,
        40000,
      );
      // And a user never in the group may not read it
      await rejects(get('h-x', `/api/v1/sessions/2/${gid}/messages`), 403, 26002);
    });
  });

  describe('group assistant (GroupAssisMsg, AckAssisMsg)', () => {
    interface AssistantPage {
      messages: (Message & { msg_type: number; msg_source: number; receiver_id: string })[];
      has_more: 0 | 1;
      ack_seqno: number;
      unread_count: number;
      newest_seqno: number;
    }
    const assistant = (uid: string, q: Record<string, unknown> = {}) =>
      ok<AssistantPage>(get(uid, `${G}/assistant`, q));

    it('tells the owner and admins of applications and membership, each with its own read progress', async () => {
      // Given an approval group of owner O with admin D and member M
      const gid = await createGroup(
        'as-o',
        'as_group',
        [{ uid: 'as-d', role_level: 3 }, { uid: 'as-m' }],
        {
          join_policy: 'approval',
        },
      );
      await users('as-x');
      // When X applies and D (an admin) accepts
      await ok(post('as-x', `${G}/${gid}/join`, { req_message: 'let me in' }));
      await ok(
        post('as-d', `${G}/${gid}/applications/as-x`, { result: 1, handled_msg: 'welcome' }),
      );

      // Then O's assistant holds the application, the acceptance and the joining, in that order
      let page!: AssistantPage;
      await waitFor(
        async () => (page = await assistant('as-o')).messages.length === 3,
        "O's notices",
      );
      expect(
        page.messages.map((m) => JSON.parse(m.content) as { op: string; uids: string[] }),
      ).toEqual([
        expect.objectContaining({ op: 'applied', uids: ['as-x'], content: 'let me in' }),
        expect.objectContaining({
          op: 'accepted',
          uids: ['as-x'],
          by_uid: 'as-d',
          content: 'welcome',
        }),
        expect.objectContaining({ op: 'approved', uids: ['as-x'], by_uid: 'as-d' }),
      ]);
      expect(page.messages.map((m) => m.msg_seqno)).toEqual([1, 2, 3]);
      expect(page.messages[0]).toMatchObject({
        msg_type: 306,
        msg_source: 13,
        receiver_id: gid,
        sender_uid: '0',
      });
      expect(page).toMatchObject({ has_more: 0, ack_seqno: 0, unread_count: 3, newest_seqno: 3 });
      // And D, who did the accepting, is told only of the application
      const d = await assistant('as-d');
      expect(d.messages.map((m) => (JSON.parse(m.content) as { op: string }).op)).toEqual([
        'applied',
      ]);
      // And a plain member is told nothing
      expect((await assistant('as-m')).messages).toEqual([]);

      // When O reads two pages of one, then acks up to 2
      const first = await assistant('as-o', { size: 1 });
      expect(first).toMatchObject({ has_more: 1 });
      const second = await assistant('as-o', {
        size: 1,
        client_seqno: first.messages[0].msg_seqno,
      });
      expect(second.messages.map((m) => m.msg_seqno)).toEqual([2]);
      expect(await ok(put('as-o', `${G}/assistant/ack`, { ack_seqno: 2 }))).toEqual({
        ack_seqno: 2,
        changed: true,
      });
      // Then one notice is left unread, and D's progress is untouched
      await waitFor(async () => (await assistant('as-o')).unread_count === 1, "O's ack");
      expect(await assistant('as-d')).toMatchObject({ ack_seqno: 0, unread_count: 1 });
      // And an ack below it writes nothing, one beyond the newest notice is refused
      expect(await ok(put('as-o', `${G}/assistant/ack`, { ack_seqno: 1 }))).toEqual({
        ack_seqno: 2,
        changed: false,
      });
      await rejects(put('as-o', `${G}/assistant/ack`, { ack_seqno: 4 }), 400, 40000);
      await rejects(put('as-o', `${G}/assistant/ack`, { ack_seqno: -1 }), 400, 40000);
    });
  });

  describe('version sync (TeamTalk)', () => {
    it('returns only the groups newer than the versions given, and those not given', async () => {
      const g1 = await createGroup('vs-o', 'vs_one', [{ uid: 'vs-m' }]);
      const g2 = await createGroup('vs-o', 'vs_two', [{ uid: 'vs-m' }]);
      await groupWhen('vs-m', g2, () => true, 'the second group');
      const sync = async (versions: { group_id: string; version: number }[]) =>
        (await ok<{ groups: Group[] }>(post('vs-m', `${G}/sync`, { versions }))).groups;
      // When the member holds both at their current version, Then nothing comes back
      expect(
        await sync([
          { group_id: g1, version: 1 },
          { group_id: g2, version: 1 },
        ]),
      ).toEqual([]);
      // When one is left out, Then it comes back whole (version 0 = all)
      expect((await sync([{ group_id: g1, version: 1 }])).map((g) => g.group_id)).toEqual([g2]);
      // When the owner changes g1's info, Then g1 comes back with the higher version
      await ok(patch('vs-o', `${G}/${g1}`, { introduction: 'about us' }));
      await groupWhen('vs-m', g1, (g) => g.version === 2, 'g1 at version 2');
      const newer = await sync([
        { group_id: g1, version: 1 },
        { group_id: g2, version: 1 },
      ]);
      expect(newer).toEqual([expect.objectContaining({ group_id: g1, version: 2 })]);
    });
  });

  describe('change members (TeamTalk)', () => {
    it('adds and removes, answering the current and the changed lists', async () => {
      const gid = await createGroup('cm-o', 'cm_group', [{ uid: 'cm-m' }]);
      await users('cm-x', 'cm-y');
      const added = await ok<{
        change_type: number;
        cur_user_id_list: string[];
        chg_user_id_list: string[];
      }>(post('cm-o', `${G}/${gid}/members/change`, { change_type: 1, uids: ['cm-x', 'cm-y'] }));
      expect(added.change_type).toBe(1);
      expect(added.chg_user_id_list).toEqual(['cm-x', 'cm-y']);
      expect([...added.cur_user_id_list].sort()).toEqual(['cm-m', 'cm-o', 'cm-x', 'cm-y']);
      const removed = await ok<{ cur_user_id_list: string[]; chg_user_id_list: string[] }>(
        post('cm-o', `${G}/${gid}/members/change`, { change_type: 2, uids: ['cm-x'] }),
      );
      expect(removed.chg_user_id_list).toEqual(['cm-x']);
      expect([...removed.cur_user_id_list].sort()).toEqual(['cm-m', 'cm-o', 'cm-y']);
    });
  });

  describe('bad input', () => {
    it('refuses malformed requests with 400 40000 and unknown groups with 404 26001', async () => {
      const gid = await createGroup('bad-o', 'bad_group', [{ uid: 'bad-m' }]);
      const u = 'bad-o';
      const bad = [
        patch(u, `${G}/a-b`, { name: 'x' }),
        post(u, `${G}/a-b/join`),
        get(u, `${G}/a-b/members`),
        get(u, G, { ids: 'a-b' }),
        get(u, G, { ids: Array.from({ length: 101 }, (_, i) => `g${i}`).join(',') }),
        post(u, G, { join_policy: 'everyone' }),
        patch(u, `${G}/${gid}`, { join_policy: 'everyone' }),
        // null names no value to set (the field left out changes nothing)
        patch(u, `${G}/${gid}`, { name: null }),
        patch(u, `${G}/${gid}`, { join_policy: null }),
        post(u, `${G}/${gid}/invitations`, { uids: 'bad-m' }),
        post(u, `${G}/${gid}/kicks`, { uids: 'bad-m' }),
        post(u, `${G}/${gid}/invitations`, {
          uids: Array.from({ length: 1001 }, (_, i) => `bad-u${i}`),
        }),
        put(u, `${G}/${gid}/members/bad-m/role`, { role_level: 2 }),
        put(u, `${G}/${gid}/members/bad-m/mute`, { muted_seconds: -1 }),
        put(u, `${G}/${gid}/status`, { status: 4 }),
        post(u, `${G}/${gid}/members/change`, { change_type: 3, uids: ['bad-m'] }),
        post(u, `${G}/sync`, { versions: [{ group_id: 'a-b', version: 1 }] }),
      ];
      for (const req of bad) await rejects(req, 400, 40000);
      for (const req of [
        patch(u, `${G}/no_such_group`, { name: 'x' }),
        post(u, `${G}/no_such_group/join`),
        get(u, `${G}/no_such_group/members`),
        post(u, `${G}/no_such_group/invitations`, { uids: ['bad-m'] }),
      ]) {
        await rejects(req, 404, 26001);
      }
      await rejects(admin.get('/admin/v1/groups/no_such_group'), 404, 26001);
      expect(await ok(get(u, G, { ids: 'no_such_group' }))).toEqual({ groups: [] });
    });

    it('guards every administrators’ route with the admin key (40110; a user token is refused 40300)', async () => {
      const gid = await createGroup('adm-o', 'adm_group', [{ uid: 'adm-m' }]);
      const routes: [string, string, object?][] = [
        ['post', '/admin/v1/groups', { owner_uid: 'adm-o' }],
        ['get', '/admin/v1/groups'],
        ['get', `/admin/v1/groups/${gid}`],
        ['get', `/admin/v1/groups/${gid}/members`],
        ['put', `/admin/v1/groups/${gid}/status`, { status: 1 }],
        ['put', `/admin/v1/groups/${gid}/members/adm-m/role`, { role_level: 3 }],
        ['delete', `/admin/v1/groups/${gid}`],
        ['post', `/admin/v1/groups/${gid}/members`, { uids: ['adm-o'] }],
        ['post', `/admin/v1/groups/${gid}/members/remove`, { uids: ['adm-m'] }],
      ];
      const build = ([method, path, body]: [string, string, object?]) => {
        const agent = request(t.url);
        const r =
          method === 'get'
            ? agent.get(path)
            : method === 'post'
              ? agent.post(path)
              : method === 'put'
                ? agent.put(path)
                : agent.delete(path);
        return body ? r.send(body) : r;
      };
      for (const route of routes) {
        await rejects(build(route), 401, 40110);
        await rejects(build(route).set('Authorization', auth('adm-o')), 403, 40300);
        await rejects(build(route).set('X-Admin-Key', `${t.adminKey}x`), 401, 40110);
      }
      // And the group is untouched
      expect(await groupInfo('adm-o', gid)).toMatchObject({ status: 0, member_count: 2 });
    });
  });

  describe('concurrency', () => {
    it('lets 20 users join an open group at once, each with their own member_seq', async () => {
      const gid = await createGroup('cc-o', 'cc_group', [], { join_policy: 'open' });
      const joiners = Array.from({ length: 20 }, (_, i) => `cc-u${i}`);
      await users(...joiners);
      // When 20 users join concurrently
      const results = await Promise.all(joiners.map((uid) => post(uid, `${G}/${gid}/join`)));
      // Then every join succeeds, each at its own version
      expect(results.map((r) => r.status)).toEqual(joiners.map(() => 200));
      const versions = results.map((r) => (r.body as Changed).version);
      expect(new Set(versions).size).toBe(20);
      expect([...versions].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 2),
      );
      // And the group ends with 21 distinct members, each with a distinct member_seq
      await groupWhen('cc-o', gid, (g) => g.member_count === 21, '21 members');
      const { members } = await allMembers('cc-o', gid);
      expect(members).toHaveLength(21);
      expect(new Set(members.map((m) => m.uid))).toEqual(new Set(['cc-o', ...joiners]));
      expect(new Set(members.map((m) => m.member_seq)).size).toBe(21);
      // And every read model, after everything this file did, is what a rebuild makes
      expect(await t.verify()).toMatchObject({ equal: true, differing: [] });
    });
  });
});
