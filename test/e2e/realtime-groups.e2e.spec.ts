import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { UserFeeds } from '../../src/realtime/user-feeds';
import { startTestApp, TestApp } from '../support/app';
import { connectSocket, followerAtHead, TestSocket, textTo } from '../support/realtime';
import { waitFor } from '../support/wait-for';

interface Pushed {
  talker_id: string;
  session_type: number;
  sender_uid: string;
  receiver_type: number;
  receiver_id: string;
  content: string;
  msg_seqno: number;
  msg_key: string;
  at_uids: string[] | null;
}

interface MemberChanged {
  group_id: string;
  version: number;
  op: string;
  uids: string[];
  how?: string;
  reason?: string;
  by_uid: string | null;
}

interface GroupUpdated {
  group_id: string;
  version: number;
  op: string;
  changes?: Record<string, string>;
  by_uid: string | null;
}

interface Application {
  group_id: string;
  op: string;
  uid: string;
  req_message?: string;
  result?: number;
  handled_msg?: string;
  by_uid?: string | null;
}

interface SessionPush {
  talker_id: string;
  session_type: number;
  at_seqno: number;
  max_seqno: number;
}

interface Changed {
  group_id: string;
  version: number;
  outcome: string;
}

interface Sent {
  msg_key: string;
  msg_seqno: number;
}

interface NotifyEvent {
  cursor: string | null;
  event: string;
  data: unknown;
}

interface PollBody {
  cursor: string;
  events: NotifyEvent[];
  has_more: 0 | 1;
}

const GROUP_EVENTS = ['group_updated', 'group_member_changed', 'group_application'];
const words = (m: { content: string }) => (JSON.parse(m.content) as { content: string }).content;

/** Group pushes end to end: Socket.IO fan-out, membership changes, mentions, and GET /notify. */
describe('realtime group pushes over Socket.IO and GET /notify', () => {
  let t: TestApp;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  const open = async (uid: string) => {
    const s = await connectSocket(t.url, { token: await t.user(uid) });
    sockets.push(s);
    return s;
  };
  const bearer = async (uid: string) => `Bearer ${await t.user(uid)}`;
  const post = async (uid: string, path: string, body: object = {}) =>
    request(t.url)
      .post(path)
      .set('Authorization', await bearer(uid))
      .send(body);

  /** `owner` creates a group with `members` (every one registered first); returns the version. */
  const createGroup = async (
    owner: string,
    groupId: string,
    members: string[],
    extra: Record<string, unknown> = {},
  ) => {
    await Promise.all([owner, ...members].map((uid) => t.user(uid)));
    const res = await post(owner, '/api/v1/groups', {
      group_id: groupId,
      name: `name of ${groupId}`,
      members: members.map((uid) => ({ uid })),
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body as Changed;
  };
  const groupMessage = (groupId: string, text: string, atUids?: string[]) => ({
    receiver_id: groupId,
    receiver_type: 2,
    msg_type: 1,
    content: JSON.stringify({ content: text }),
    dev_id: randomUUID(),
    ...(atUids ? { at_uids: atUids } : {}),
  });
  /** `from` sends `text` to the group over REST. */
  const sendRest = async (from: string, groupId: string, text: string, atUids?: string[]) => {
    const res = await post(from, '/api/v1/messages', groupMessage(groupId, text, atUids));
    expect(res.status).toBe(201);
    return res.body as Sent;
  };
  /** `from` sends `text` to the group over its socket; the ack's data. */
  const sendSocket = async (s: TestSocket, groupId: string, text: string) => {
    const reply = await s.call<{ code: number; data: Sent }>('send', groupMessage(groupId, text));
    expect(reply.code).toBe(0);
    return reply.data;
  };

  /**
   * A private message from a probe user to `to`, awaited on `socket`: pushes are handed out in log
   * order, so once it has arrived, anything the earlier events would have pushed to `to` has too.
   */
  const probe = async (to: string, socket: TestSocket) => {
    await t.user('rg-probe');
    await t.follow(await t.user(to), 'rg-probe');
    const res = await post('rg-probe', '/api/v1/messages', textTo(to, 'probe'));
    expect(res.status).toBe(201);
    const key = (res.body as Sent).msg_key;
    await socket.next<Pushed>('message', (m) => m.msg_key === key);
  };

  const groupMessages = (s: TestSocket, groupId: string) =>
    s.all<Pushed>('message').filter((m) => m.talker_id === groupId);
  const groupEvents = (s: TestSocket, groupId: string) =>
    s.received.filter(
      (r) =>
        GROUP_EVENTS.includes(r.event) && (r.data as { group_id?: string }).group_id === groupId,
    );

  it('fans a group message out to every connected member’s sockets, one payload, never to a non-member', async () => {
    // Given owner A (two sockets), members B (two sockets) and C, and D who is not a member
    const [a1, a2, b1, b2, c, d] = [
      await open('fo-a'),
      await open('fo-a'),
      await open('fo-b'),
      await open('fo-b'),
      await open('fo-c'),
      await open('fo-d'),
    ];
    const gid = 'rg_fanout';
    const created = await createGroup('fo-a', gid, ['fo-b', 'fo-c']);
    expect(created.version).toBe(1);
    // The creation reaches every member
    for (const s of [a1, a2, b1, b2, c]) {
      expect(await s.next<GroupUpdated>('group_updated', (g) => g.group_id === gid)).toMatchObject({
        group_id: gid,
        op: 'created',
        version: 1,
        by_uid: 'fo-a',
      });
    }

    // When A sends over REST
    const m1 = await sendRest('fo-a', gid, 'one');
    // Then every socket of the members, A's included (REST has no origin), gets it, as the group
    const got1: Pushed[] = [];
    for (const s of [a1, a2, b1, b2, c]) {
      got1.push(await s.next<Pushed>('message', (m) => m.msg_key === m1.msg_key));
    }
    expect(got1[2]).toMatchObject({
      talker_id: gid,
      session_type: 2,
      sender_uid: 'fo-a',
      receiver_type: 2,
      receiver_id: gid,
      msg_seqno: m1.msg_seqno,
      msg_key: m1.msg_key,
    });
    expect(words(got1[2])).toBe('one');
    // One payload for everyone
    for (const m of got1) expect(m).toEqual(got1[2]);

    // When A sends over its first socket
    const m2 = await sendSocket(a1, gid, 'two');
    expect(m2.msg_key).toEqual(expect.any(String));
    expect(m2.msg_seqno).toBe(m1.msg_seqno + 1);
    // Then B's two sockets, C and A's other socket get it
    for (const s of [a2, b1, b2, c]) {
      const m = await s.next<Pushed>('message', (x) => x.msg_key === m2.msg_key);
      expect(m).toMatchObject({ talker_id: gid, session_type: 2, msg_seqno: m2.msg_seqno });
      expect(words(m)).toBe('two');
    }
    // And the sending socket does not: a later message reaches it, and m2 never came before it
    const m3 = await sendRest('fo-a', gid, 'three');
    await a1.next<Pushed>('message', (m) => m.msg_key === m3.msg_key);
    expect(groupMessages(a1, gid).map((m) => m.msg_key)).toEqual([m1.msg_key, m3.msg_key]);
    // Each of the others has each message once, in order
    for (const s of [a2, b1, b2, c]) {
      await s.next<Pushed>('message', (m) => m.msg_key === m3.msg_key);
      expect(groupMessages(s, gid).map((m) => m.msg_seqno)).toEqual([1, 2, 3]);
    }

    // And D, whose stream moved on past them all, got nothing of the group
    await probe('fo-d', d);
    expect(groupMessages(d, gid)).toEqual([]);
    expect(groupEvents(d, gid)).toEqual([]);
    expect(d.all<Pushed>('message').map((m) => m.session_type)).toEqual([1]);
  });

  it('delivers 20 concurrent sends of two members in msg_seqno order, no gaps, no duplicates', async () => {
    // Given A and B who send, C who listens
    const [a, c] = [await open('or-a'), await open('or-c')];
    const gid = 'rg_order';
    await createGroup('or-a', gid, ['or-b', 'or-c']);
    await c.next('group_updated', (g: GroupUpdated) => g.group_id === gid);

    // When A sends 10 over its socket and B 10 over REST, all at once
    const sent = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => sendSocket(a, gid, `a${i}`)),
      ...Array.from({ length: 10 }, (_, i) => sendRest('or-b', gid, `b${i}`)),
    ]);
    expect(sent.map((s) => s.msg_seqno).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // And one more after them, so that anything still to come would come before it
    const last = await sendRest('or-b', gid, 'last');
    expect(last.msg_seqno).toBe(21);
    await c.next<Pushed>('message', (m) => m.msg_key === last.msg_key);

    // Then C has them all, each once, in msg_seqno order
    const atC = groupMessages(c, gid);
    expect(atC.map((m) => m.msg_seqno)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    const bySeqno = new Map(sent.map((s) => [s.msg_seqno, s.msg_key]));
    expect(atC.slice(0, 20).map((m) => m.msg_key)).toEqual(
      atC.slice(0, 20).map((m) => bySeqno.get(m.msg_seqno)),
    );
    // And A's socket, which sent half of them, has exactly B's, in order
    await a.next<Pushed>('message', (m) => m.msg_key === last.msg_key);
    const fromB = sent.slice(10).map((s) => s.msg_seqno);
    expect(groupMessages(a, gid).map((m) => m.msg_seqno)).toEqual([
      ...fromB.sort((x, y) => x - y),
      21,
    ]);
  });

  it('pushes joins, kicks and info changes to the members before the change and those it names', async () => {
    // Given an open group of A, B and C, and E who is not in it yet; all connected
    const [a, b, c, e] = [
      await open('mb-a'),
      await open('mb-b'),
      await open('mb-c'),
      await open('mb-e'),
    ];
    const gid = 'rg_members';
    await createGroup('mb-a', gid, ['mb-b', 'mb-c'], { join_policy: 'open' });

    // When E joins
    const joined = await post('mb-e', `/api/v1/groups/${gid}/join`);
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ outcome: 'joined' });
    const joinVersion = (joined.body as Changed).version;
    // Then the members and E are told, with the group's new version
    for (const s of [a, b, c, e]) {
      expect(
        await s.next<MemberChanged>('group_member_changed', (x) => x.group_id === gid),
      ).toEqual({
        group_id: gid,
        version: joinVersion,
        op: 'joined',
        uids: ['mb-e'],
        how: 'joined',
        by_uid: 'mb-e',
      });
    }
    // And a message after it reaches E
    const afterJoin = await sendRest('mb-a', gid, 'welcome');
    const atE = await e.next<Pushed>('message', (m) => m.msg_key === afterJoin.msg_key);
    expect(atE).toMatchObject({ talker_id: gid, session_type: 2 });

    // When A kicks C
    const kicked = await post('mb-a', `/api/v1/groups/${gid}/kicks`, {
      uids: ['mb-c'],
      reason: 'spam',
    });
    expect(kicked.status).toBe(200);
    const kickVersion = (kicked.body as Changed).version;
    expect(kickVersion).toBe(joinVersion + 1);
    // Then C and everyone else are told how
    for (const s of [a, b, c, e]) {
      expect(
        await s.next<MemberChanged>(
          'group_member_changed',
          (x) => x.group_id === gid && x.op === 'left',
        ),
      ).toEqual({
        group_id: gid,
        version: kickVersion,
        op: 'left',
        uids: ['mb-c'],
        how: 'kicked',
        reason: 'spam',
        by_uid: 'mb-a',
      });
    }

    // When A sends after the kick, and renames the group
    const afterKick = await sendRest('mb-a', gid, 'without c');
    const renamed = await request(t.url)
      .patch(`/api/v1/groups/${gid}`)
      .set('Authorization', await bearer('mb-a'))
      .send({ name: 'renamed' });
    expect(renamed.status).toBe(200);
    const infoVersion = (renamed.body as Changed).version;
    // Then the remaining members get both
    for (const s of [a, b, e]) {
      await s.next<Pushed>('message', (m) => m.msg_key === afterKick.msg_key);
      expect(
        await s.next<GroupUpdated>('group_updated', (g) => g.group_id === gid && g.op === 'info'),
      ).toEqual({
        group_id: gid,
        version: infoVersion,
        op: 'info',
        changes: { name: 'renamed' },
        by_uid: 'mb-a',
      });
    }
    // And C neither: its stream moved on past them
    await probe('mb-c', c);
    expect(groupMessages(c, gid).map((m) => m.msg_key)).toEqual([afterJoin.msg_key]);
    expect(groupEvents(c, gid).map((r) => r.event)).toEqual([
      'group_updated', // created
      'group_member_changed', // E joined
      'group_member_changed', // C kicked
    ]);
  });

  it('pushes applications to the owner and the applicant, and the approval to the new member', async () => {
    // Given a group that needs approval, of owner A and member B, and F who is not in it
    const [a, b, f] = [await open('ap-a'), await open('ap-b'), await open('ap-f')];
    const gid = 'rg_approval';
    await createGroup('ap-a', gid, ['ap-b']);
    await b.next('group_updated', (g: GroupUpdated) => g.group_id === gid);

    // When F applies
    const applied = await post('ap-f', `/api/v1/groups/${gid}/join`, { req_message: 'let me in' });
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ outcome: 'applied' });
    // Then the owner and F are told
    for (const s of [a, f]) {
      expect(await s.next<Application>('group_application', (x) => x.op === 'applied')).toEqual({
        group_id: gid,
        op: 'applied',
        uid: 'ap-f',
        req_message: 'let me in',
      });
    }

    // When the owner accepts
    const handled = await post('ap-a', `/api/v1/groups/${gid}/applications/ap-f`, {
      result: 1,
      handled_msg: 'welcome',
    });
    expect(handled.status).toBe(200);
    // Then F (and the owner) hear it was accepted
    for (const s of [f, a]) {
      expect(await s.next<Application>('group_application', (x) => x.op === 'handled')).toEqual({
        group_id: gid,
        op: 'handled',
        uid: 'ap-f',
        result: 1,
        handled_msg: 'welcome',
        by_uid: 'ap-a',
      });
    }
    // And every member, F included, that F came in by approval
    for (const s of [a, b, f]) {
      expect(
        await s.next<MemberChanged>('group_member_changed', (x) => x.group_id === gid),
      ).toMatchObject({ op: 'joined', uids: ['ap-f'], how: 'approved', by_uid: 'ap-a' });
    }
    // And B, an ordinary member, heard nothing of the application itself
    expect(b.all('group_application')).toEqual([]);
  });

  it('pushes session_updated with at_seqno to a mentioned member and the sender only', async () => {
    // Given A, B and C in a group
    const [a, b, c] = [await open('at-a'), await open('at-b'), await open('at-c')];
    const gid = 'rg_mention';
    await createGroup('at-a', gid, ['at-b', 'at-c']);
    await b.next('group_updated', (g: GroupUpdated) => g.group_id === gid);

    // When A mentions C
    const sent = await sendRest('at-a', gid, '@c look', ['at-c']);

    // Then C's message carries the mention, and C's group session is pushed with at_seqno
    const m = await c.next<Pushed>('message', (x) => x.msg_key === sent.msg_key);
    expect(m.at_uids).toEqual(['at-c']);
    const session = await c.next<SessionPush>(
      'session_updated',
      (s) => s.talker_id === gid && s.session_type === 2,
    );
    expect(session).toMatchObject({
      talker_id: gid,
      session_type: 2,
      at_seqno: sent.msg_seqno,
      max_seqno: sent.msg_seqno,
    });
    // And the sender's session too
    expect(await a.next<SessionPush>('session_updated', (s) => s.talker_id === gid)).toMatchObject({
      session_type: 2,
      max_seqno: sent.msg_seqno,
    });
    // And B gets the message but no session object: a reply on B's socket comes after any push
    // the same batch made to it
    await b.next<Pushed>('message', (x) => x.msg_key === sent.msg_key);
    const synced = await b.call<{ code: number }>('sync', {
      talker_id: gid,
      session_type: 2,
      after_seqno: 0,
    });
    expect(synced.code).toBe(0);
    expect(b.all('session_updated')).toEqual([]);
  });

  describe('GET /notify?protoc=poll', () => {
    const poll = async (uid: string, q: Record<string, string | number> = {}) => {
      const res = await request(t.url)
        .get('/notify')
        .query({ protoc: 'poll', ...q })
        .set('Authorization', await bearer(uid));
      expect(res.status).toBe(200);
      return res.body as PollBody;
    };

    it('replays to a returning member the group messages after their join, not before it', async () => {
      // Given G, offline, with a cursor from before everything
      const gid = 'rg_poll';
      await Promise.all(['np-a', 'np-b', 'np-g'].map((uid) => t.user(uid)));
      await followerAtHead(t.app);
      const { cursor: before } = await poll('np-g', { timeout_ms: 0 });

      // When an open group is made without G and renamed, two messages are sent, G joins, and one more is sent
      await createGroup('np-a', gid, ['np-b'], { join_policy: 'open' });
      const early = await request(t.url)
        .patch(`/api/v1/groups/${gid}`)
        .set('Authorization', await bearer('np-a'))
        .send({ name: 'before G' });
      expect(early.status).toBe(200);
      const m1 = await sendRest('np-a', gid, 'first');
      const m2 = await sendRest('np-b', gid, 'second');
      const joined = await post('np-g', `/api/v1/groups/${gid}/join`);
      expect(joined.status).toBe(200);
      const m3 = await sendRest('np-a', gid, 'third');
      // (the membership read model the replay consults has the join)
      await waitFor(async () => {
        const res = await request(t.url)
          .get('/api/v1/groups/joined')
          .set('Authorization', await bearer('np-g'));
        return (res.body as { groups: { group_id: string }[] }).groups.some(
          (g) => g.group_id === gid,
        );
      }, 'G’s membership to be projected');

      // And G polls from the old cursor until caught up
      const received: NotifyEvent[] = [];
      let at = before;
      await waitFor(
        async () => {
          const body = await poll('np-g', { cursor: at, timeout_ms: 500 });
          received.push(...body.events);
          at = body.cursor;
          return (
            body.has_more === 0 &&
            received.some((r) => r.event === 'message' && (r.data as Pushed).msg_key === m3.msg_key)
          );
        },
        'the third message in the poll',
        10_000,
        0,
      );

      // Then G has the one message sent after their join, as the group, with its cursor
      const messages = received.filter((r) => r.event === 'message');
      expect(messages.map((r) => (r.data as Pushed).msg_key)).toEqual([m3.msg_key]);
      expect(messages.map((r) => (r.data as Pushed).msg_key)).not.toContain(m1.msg_key);
      expect(messages.map((r) => (r.data as Pushed).msg_key)).not.toContain(m2.msg_key);
      expect(messages[0].data).toMatchObject({
        talker_id: gid,
        session_type: 2,
        sender_uid: 'np-a',
        msg_seqno: 3,
      });
      expect(words(messages[0].data as Pushed)).toBe('third');
      expect(messages[0].cursor).toEqual(expect.any(String));
      // And the membership event naming G
      const memberships = received.filter((r) => r.event === 'group_member_changed');
      expect(memberships.map((r) => r.data)).toEqual([
        {
          group_id: gid,
          version: (joined.body as Changed).version,
          op: 'joined',
          uids: ['np-g'],
          how: 'joined',
          by_uid: 'np-g',
        },
      ]);
      // And none of the group's changes from before G joined: not its creation, not its renaming
      expect(
        received.filter((r) => r.event === 'group_updated').map((r) => (r.data as GroupUpdated).op),
      ).toEqual([]);

      // When G waits in a poll from there and A sends again
      const feeds = t.app.get(UserFeeds);
      const t0 = Date.now();
      const waiting = poll('np-g', { cursor: at, timeout_ms: 20_000 });
      await waitFor(() => feeds.isOnline('np-g'), 'the poll to be waiting');
      const m4 = await sendRest('np-a', gid, 'fourth');

      // Then the poll answers with it, well before its timeout
      const body = await waiting;
      expect(Date.now() - t0).toBeLessThan(10_000);
      const live = body.events.filter((r) => r.event === 'message');
      expect(live.map((r) => (r.data as Pushed).msg_key)).toEqual([m4.msg_key]);
      expect(live[0].data).toMatchObject({ talker_id: gid, session_type: 2, msg_seqno: 4 });
    });

    it('replays to a member who was kicked what happened while they were in, and nothing after', async () => {
      // Given K's cursor, then a group with K, a message, a renaming, K kicked, and one more message
      const gid = 'rg_kicked';
      await Promise.all(['nk-a', 'nk-k'].map((uid) => t.user(uid)));
      await followerAtHead(t.app);
      const { cursor: before } = await poll('nk-k', { timeout_ms: 0 });
      await createGroup('nk-a', gid, ['nk-k']);
      const m1 = await sendRest('nk-a', gid, 'while in');
      const renamed = await request(t.url)
        .patch(`/api/v1/groups/${gid}`)
        .set('Authorization', await bearer('nk-a'))
        .send({ name: 'while K is in' });
      expect(renamed.status).toBe(200);
      expect((await post('nk-a', `/api/v1/groups/${gid}/kicks`, { uids: ['nk-k'] })).status).toBe(
        200,
      );
      const m2 = await sendRest('nk-a', gid, 'after K');
      await followerAtHead(t.app);

      // When K polls from the old cursor until caught up
      const received: NotifyEvent[] = [];
      let at = before;
      await waitFor(
        async () => {
          const body = await poll('nk-k', { cursor: at, timeout_ms: 200 });
          received.push(...body.events);
          at = body.cursor;
          return (
            body.has_more === 0 &&
            received.some(
              (r) => r.event === 'group_member_changed' && (r.data as { op: string }).op === 'left',
            )
          );
        },
        'the kick in the poll',
        10_000,
        0,
      );

      // Then K has the creation, the message and the renaming from their time in, then the kick
      const mine = received
        .filter((r) => r.event !== 'session_updated')
        .map((r) =>
          r.event === 'message'
            ? `message ${(r.data as Pushed).msg_key}`
            : `${r.event} ${(r.data as { op: string }).op}`,
        );
      expect(mine).toEqual([
        'group_updated created',
        `message ${m1.msg_key}`,
        'group_updated info',
        'group_member_changed left',
      ]);
      expect(mine).not.toContain(`message ${m2.msg_key}`);
    });

    it('replays to a member made admin only the applications from after their promotion', async () => {
      // Given M's cursor, an approval group of A with member M, where X applies, M is made an
      // admin, then Y applies
      const gid = 'rg_promoted';
      await Promise.all(['na-a', 'na-m', 'na-x', 'na-y'].map((uid) => t.user(uid)));
      await followerAtHead(t.app);
      const { cursor: before } = await poll('na-m', { timeout_ms: 0 });
      await createGroup('na-a', gid, ['na-m'], { join_policy: 'approval' });
      expect((await post('na-x', `/api/v1/groups/${gid}/join`, { req_message: 'x' })).status).toBe(
        200,
      );
      const promoted = await request(t.url)
        .put(`/api/v1/groups/${gid}/members/na-m/role`)
        .set('Authorization', await bearer('na-a'))
        .send({ role_level: 3 });
      expect(promoted.status).toBe(200);
      expect((await post('na-y', `/api/v1/groups/${gid}/join`, { req_message: 'y' })).status).toBe(
        200,
      );
      await followerAtHead(t.app);

      // When M polls from the old cursor until caught up
      const received: NotifyEvent[] = [];
      let at = before;
      await waitFor(
        async () => {
          const body = await poll('na-m', { cursor: at, timeout_ms: 200 });
          received.push(...body.events);
          at = body.cursor;
          return (
            body.has_more === 0 &&
            received.some(
              (r) => r.event === 'group_member_changed' && (r.data as { op: string }).op === 'role',
            )
          );
        },
        'the promotion in the poll',
        10_000,
        0,
      );
      await waitFor(
        async () => {
          const body = await poll('na-m', { cursor: at, timeout_ms: 200 });
          received.push(...body.events);
          at = body.cursor;
          return received.some((r) => r.event === 'group_application');
        },
        "Y's application in the poll",
        10_000,
        0,
      );

      // Then M hears of Y's application, made after the promotion, and not of X's
      const applications = received
        .filter((r) => r.event === 'group_application')
        .map((r) => (r.data as { uid: string }).uid);
      expect(applications).toEqual(['na-y']);
    });
  });
});
