import { cancelAutovacuumOn } from './read-model-copies';

/** A client that records its statements and fails the ones `fails` matches, as PostgreSQL would. */
function recordingClient(fails: RegExp) {
  const statements: string[] = [];
  return {
    statements,
    query: (text: string) => {
      statements.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
      if (fails.test(text)) {
        return Promise.reject(new Error('permission denied to cancel query'));
      }
      return Promise.resolve({ rows: [{ n: 1 }] });
    },
  };
}

describe('cancelAutovacuumOn', () => {
  it('cancels inside a savepoint of the caller’s transaction', async () => {
    const client = recordingClient(/^$/);
    await expect(cancelAutovacuumOn(client as never, ['rm_users'])).resolves.toBe(1);
    expect(client.statements).toEqual([
      'SAVEPOINT cancel_autovacuum',
      'SELECT count(*) FILTER',
      'RELEASE SAVEPOINT cancel_autovacuum',
    ]);
  });

  it('leaves the transaction usable when the role may not signal autovacuum workers', async () => {
    // pg_cancel_backend raises an error (it does not return false) for a role without the right:
    // without the savepoint the swap's transaction would be aborted and the rebuild would fail.
    const client = recordingClient(/pg_cancel_backend/);
    await expect(cancelAutovacuumOn(client as never, ['rm_users'])).resolves.toBe(0);
    expect(client.statements).toEqual([
      'SAVEPOINT cancel_autovacuum',
      'SELECT count(*) FILTER',
      'ROLLBACK TO SAVEPOINT',
    ]);
  });
});
