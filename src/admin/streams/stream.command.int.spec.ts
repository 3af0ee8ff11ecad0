import type { Pool } from 'pg';
import type { TestDatabase } from '../../../test/support/database';
import { useTestStore } from '../../../test/support/test-store';
import { DirectSender, testKeyRing } from '../../../test/support/messaging';
import { TEST_MASTER_KEY } from '../../../test/support/test-keys';
import { PostgresEventStore } from '../../event-store/postgres/postgres-event-store';
import { ADMIN_OPERATION_RECORDED } from '../admin-actions';
import { runAdmin } from '../admin.cli';
import { AdminContext, EXIT } from '../admin-context';
import type { StreamPage } from './stream-inspection';

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('npm run admin -- stream', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  const stream = 'conversation-alice~bob';

  /** Runs `npm run admin -- <args>` in process, on the test database. */
  async function admin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    let stdout = '';
    let stderr = '';
    const context: AdminContext = {
      env: {
        DATABASE_URL: db.url,
        MASTER_KEY: TEST_MASTER_KEY.toString('base64'),
        ADMIN_ACTOR: 'ops-anna',
        ...env,
      },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      signal: new AbortController().signal,
      exitCode: 0,
    };
    const status = await runAdmin(args, context);
    return { status, stdout, stderr };
  }

  const page = async (...args: string[]) => {
    const run = await admin(['stream', stream, '--json', ...args]);
    expect(run.status).toBe(EXIT.ok);
    return JSON.parse(run.stdout) as StreamPage;
  };

  useTestStore((t) => ({ db, pool, store } = t), { perFile: true });
  beforeAll(async () => {
    // Given a conversation of five messages, three of alice and two of bob
    const sender = new DirectSender(store, testKeyRing(pool));
    for (let i = 0; i < 5; i++) {
      const [from, to] = i % 2 === 0 ? ['alice', 'bob'] : ['bob', 'alice'];
      await sender.send(from, to, `${from} says ${i}`);
    }
  });

  it('shows events with revision, position, type, time, metadata, and content opened', async () => {
    const shown = await page('--limit', '2');

    expect(shown).toMatchObject({
      stream_id: stream,
      direction: 'forwards',
      last_revision: 4,
      next_from_revision: 2,
      opened: true,
    });
    expect(shown.events.map((e) => e.revision)).toEqual([0, 1]);
    const [first] = shown.events;
    expect(first.type).toBe('MessageSent');
    expect(first.metadata.actor).toEqual({ kind: 'user', id: 'alice' });
    expect(Number(first.position.commit)).toBeGreaterThan(0);
    expect(Date.parse(first.created_at)).not.toBeNaN();
    expect((first.data as { content: string }).content).toBe('{"content":"alice says 0"}');
    expect(first.sealed).toEqual([{ path: 'content', owner: 'alice', opened: true }]);
  });

  it('pages by revision, forwards and backwards, to the end', async () => {
    const second = await page('--from', '2', '--limit', '2');
    expect(second.events.map((e) => e.revision)).toEqual([2, 3]);
    const last = await page('--from', '4', '--limit', '2');
    expect(last.events.map((e) => e.revision)).toEqual([4]);
    expect(last.next_from_revision).toBeNull();
    const newest = await page('--backwards', '--limit', '3');
    expect(newest.events.map((e) => e.revision)).toEqual([4, 3, 2]);
    expect(newest.next_from_revision).toBe(1);
    const beyond = await page('--from', '9');
    expect(beyond.events).toEqual([]);
  });

  it('prints a readable page by default', async () => {
    const run = await admin(['stream', stream, '--limit', '1']);
    expect(run.status).toBe(EXIT.ok);
    expect(run.stdout).toContain(`${stream}: revisions 0-0 (forwards); last revision 4`);
    expect(run.stdout).toContain('#0  MessageSent');
    expect(run.stdout).toContain('alice says 0');
    expect(run.stdout).toContain('sealed    content (of alice): opened');
    expect(run.stdout).toContain('next page: --from 1');
  });

  it('lists sealed fields without opening them when there is no master key', async () => {
    const run = await admin(['stream', stream, '--json', '--limit', '1'], { MASTER_KEY: '' });
    expect(run.status).toBe(EXIT.ok);
    expect(run.stderr).toContain('no MASTER_KEY');
    const shown = JSON.parse(run.stdout) as StreamPage;
    expect(shown.opened).toBe(false);
    expect((shown.events[0].data as { content: string }).content).toMatch(/^e1\./);
  });

  it('records each inspection in the log, with the operator as the actor', async () => {
    await page('--limit', '1');
    const [last] = await store.readAll({ limit: 100_000 }).then((all) => all.slice(-1));
    expect(last.type).toBe(ADMIN_OPERATION_RECORDED);
    expect(last.metadata.actor).toEqual({ kind: 'admin', id: 'cli:ops-anna' });
    expect(last.data).toMatchObject({
      operation: 'stream',
      args: { stream, limit: 1, direction: 'forwards' },
      outcome: 'completed',
    });
  });

  it('exits 1 naming an unknown stream, and 2 on bad usage', async () => {
    const unknown = await admin(['stream', 'conversation-nobody~none']);
    expect(unknown.status).toBe(EXIT.failed);
    expect(unknown.stderr).toContain('stream conversation-nobody~none does not exist');
    expect((await admin(['stream', stream, '--limit', '0'])).status).toBe(EXIT.usage);
    expect((await admin(['stream', stream, '--from', '-1'])).status).toBe(EXIT.usage);
    expect((await admin(['stream'])).status).toBe(EXIT.usage);
    expect((await admin(['stream', '$all'])).status).toBe(EXIT.usage);
  });

  it("shows an erased user's content as null, marked erased, and the other's still opened", async () => {
    // Given alice erased (her key destroyed)
    const run = await admin(['erase-user', 'alice', '--yes']);
    // (alice has no user stream in this log: DirectSender writes conversations only)
    expect(run.status).toBe(EXIT.failed);
    expect(run.stderr).toContain('user alice does not exist');
    await testKeyRing(pool).destroyKey('alice');

    // When the conversation is inspected
    const shown = await page('--limit', '2');

    // Then
    expect(shown.events[0].data).toMatchObject({ content: null });
    expect(shown.events[0].sealed).toEqual([
      { path: 'content', owner: 'alice', opened: false, erased: true },
    ]);
    expect((shown.events[1].data as { content: string }).content).toBe('{"content":"bob says 1"}');
  });
});
