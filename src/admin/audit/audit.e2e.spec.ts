import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait-for';
import type { AuditEventView, AuditPage } from './audit-reader';

const text = (t: string) => JSON.stringify({ content: t });

/**
 * The audit log over HTTP with the real app: users and administrators act through the API, the
 * audit projection indexes their events, and administrators (only) read who did what.
 */
describe('GET /admin/v1/audit', () => {
  let t: TestApp;
  let alice: string;
  let bob: string;
  let msgKey: string;

  beforeAll(async () => {
    t = await startTestApp();
    alice = await t.user('au-alice');
    bob = await t.user('au-bob');
    await t.follow(bob, 'au-alice');
  });
  afterAll(async () => {
    await t.close();
  });

  const audit = (query: string, key: string | null = t.adminKey) => {
    const req = request(t.url).get(`/admin/v1/audit${query ? `?${query}` : ''}`);
    return key === null ? req : req.set('X-Admin-Key', key);
  };
  /** The audit page of a query, once `ready` holds for it (the projection trails the log). */
  async function page(
    query: string,
    ready: (events: AuditEventView[]) => boolean = (e) => e.length > 0,
  ): Promise<AuditPage> {
    let last: AuditPage = { events: [], next_cursor: null };
    await waitFor(async () => {
      const res = await audit(query);
      expect(res.status).toBe(200);
      last = res.body as AuditPage;
      return ready(last.events);
    }, `the audit to answer ${query}`);
    return last;
  }

  it("shows a user's actions with their ip, device and request id", async () => {
    // When alice sends a message from her phone, with a request id of her client's
    const sent = await request(t.url)
      .post('/api/v1/messages')
      .set('Authorization', `Bearer ${alice}`)
      .set('X-Request-Id', 'audit-e2e-send-1')
      .set('X-Device-Id', 'alice-phone')
      .send({
        receiver_id: 'au-bob',
        receiver_type: 1,
        msg_type: 1,
        content: text('the words nobody may audit'),
        dev_id: randomUUID(),
      });
    expect(sent.status).toBe(201);
    msgKey = sent.body.msg_key as string;

    // Then the audit by actor shows the send, newest first, with where it came from
    const { events } = await page('actor=user:au-alice', (e) =>
      e.some((x) => x.type === 'MessageSent'),
    );
    const send = events.find((e) => e.type === 'MessageSent')!;
    expect(send).toMatchObject({
      stream_id: 'conversation-au-alice~au-bob',
      revision: 0,
      action: null,
      actor: { kind: 'user', id: 'au-alice' },
      device: 'alice-phone',
      correlation_id: 'audit-e2e-send-1',
      subjects: [msgKey],
    });
    expect(send.ip).toMatch(/127\.0\.0\.1$/);
    expect(Date.parse(send.recorded_at)).not.toBeNaN();
    expect(Date.parse(send.decided_at!)).not.toBeNaN();
    // And it is all alice did herself. What was done about her on user streams: bob's follow,
    // and her account and token, which came from the inner API (an administrator's doing)
    expect(events.map((e) => e.type)).toEqual(['MessageSent']);
    const about = await page('subject=au-alice&category=user', (e) => e.length >= 3);
    expect(about.events.map((e) => [e.type, e.actor])).toEqual([
      ['Followed', { kind: 'user', id: 'au-bob' }],
      ['TokenIssued', { kind: 'admin', id: 'admin-key' }],
      ['UserRegistered', { kind: 'admin', id: 'admin-key' }],
    ]);
    // And no content anywhere in the answer
    expect(JSON.stringify(events)).not.toContain('nobody may audit');

    // And the request id finds the same event
    const byRequest = await page('correlation_id=audit-e2e-send-1');
    expect(byRequest.events.map((e) => e.event_id)).toEqual([send.event_id]);
  });

  it("shows an administrator's sys-cancel as the admin's, and who recalled the message", async () => {
    // When an administrator takes alice's message out of history
    const res = await request(t.url)
      .post(`/admin/v1/messages/${msgKey}/sys-cancel`)
      .set('X-Admin-Key', t.adminKey)
      .set('X-Request-Id', 'audit-e2e-cancel-1');
    expect(res.status).toBe(200);

    // Then "who recalled message K" names the administrator
    const { events } = await page(`type=MessageRecalled&subject=${msgKey}`);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actor: { kind: 'admin', id: 'admin-key' },
      action: 'sys_cancel',
      correlation_id: 'audit-e2e-cancel-1',
      stream_id: 'conversation-au-alice~au-bob',
    });
    expect(events[0].subjects).toContain(msgKey);
    // And the administrators' own audit shows it
    const admins = await page('actor=admin:admin-key');
    expect(admins.events.map((e) => e.type)).toContain('MessageRecalled');
  });

  it('answers "every kick in group G" with the kicks only', async () => {
    // Given a group where alice kicks bob and carol quits
    const carol = await t.user('au-carol');
    const post = (token: string, path: string, body: object) =>
      request(t.url).post(path).set('Authorization', `Bearer ${token}`).send(body);
    expect(
      (
        await post(alice, '/api/v1/groups', {
          group_id: 'au_tea',
          name: 'tea',
          members: [{ uid: 'au-bob' }, { uid: 'au-carol' }],
        })
      ).status,
    ).toBe(201);
    expect((await post(alice, '/api/v1/groups/au_tea/kicks', { uids: ['au-bob'] })).status).toBe(
      200,
    );
    expect((await post(carol, '/api/v1/groups/au_tea/quit', {})).status).toBe(200);

    // When the audit is asked for the group's departures, and for its kicks
    const left = await page('stream=group-au_tea&type=GroupMembersLeft', (e) => e.length === 2);
    const kicks = await page('stream=group-au_tea&type=GroupMembersLeft&action=kicked');

    // Then both departures are there, and the kicks are alice's kick of bob alone
    expect(left.events.map((e) => e.action)).toEqual(['quit', 'kicked']);
    expect(kicks.events).toHaveLength(1);
    expect(kicks.events[0]).toMatchObject({
      actor: { kind: 'user', id: 'au-alice' },
      subjects: ['au-bob'],
    });
  });

  it('pages by cursor and takes several types', async () => {
    const first = await page('actor=user:au-alice&limit=2');
    expect(first.events).toHaveLength(2);
    const second = await audit(`actor=user:au-alice&limit=2&cursor=${first.next_cursor}`);
    expect(second.status).toBe(200);
    const all = await audit('actor=user:au-alice&limit=1000');
    expect([...first.events, ...(second.body as AuditPage).events]).toEqual(
      (all.body as AuditPage).events.slice(0, 4),
    );
    const several = await audit('type=GroupCreated&type=MessageRecalled,TokenIssued');
    expect(new Set((several.body as AuditPage).events.map((e) => e.type))).toEqual(
      new Set(['GroupCreated', 'MessageRecalled', 'TokenIssued']),
    );
  });

  it("refuses a user's token (403) and a missing or wrong key (401)", async () => {
    await t.rejects(
      request(t.url).get('/admin/v1/audit').set('Authorization', `Bearer ${alice}`),
      403,
      40300,
    );
    await t.rejects(audit('', null), 401, 40110);
    await t.rejects(audit('', 'not-the-key'), 401, 40110);
  });

  it.each([
    ['from after to', 'from=2026-12-06&to=2026-12-05', /from must not be after to/],
    ['an unparsable time', 'from=yesterday', /from must be an ISO-8601/],
    ['a time without a zone', 'to=2026-12-05T10:00:00', /to must be an ISO-8601/],
    ['a bad cursor', 'cursor=abc', /cursor: pass back next_cursor/],
    ['limit 0', 'limit=0', /limit must not be less than 1/],
    ['limit 1001', 'limit=1001', /limit must not be greater than 1000/],
    ['a limit that is no number', 'limit=ten', /limit/],
    ['an unknown actor kind', 'actor=robot:x', /actor must be <kind> or <kind>:<id>/],
    ['an unknown parameter', 'colour=red', /property colour should not exist/],
    ['a repeated single parameter', 'actor=user:a&actor=user:b', /actor must be a string/],
  ])('answers 400 40000 to %s', async (_name, query, message) => {
    const res = await t.rejects(audit(query), 400, 40000);
    expect(res.body.message).toMatch(message);
  });

  it('is in the API description, behind the admin key', async () => {
    const doc = await request(t.url).get('/docs-json');
    const operation = doc.body.paths['/admin/v1/audit'].get;
    expect(operation.security).toEqual([{ 'admin-key': [] }]);
    expect(operation.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining([
        'actor',
        'stream',
        'category',
        'type',
        'action',
        'from',
        'to',
        'correlation_id',
        'subject',
        'cursor',
        'limit',
      ]),
    );
  });
});
