/** One master key for every test: data keys written by one test app are readable by another. */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7);

/**
 * A well-formed envelope of `uid` (crypto/key-ring.ts) whose sealed part is zeros: it names its
 * owner, and opens with no key.
 */
export function fakeEnvelope(uid: string): string {
  return `e1.${Buffer.from(uid).toString('base64url')}.${'A'.repeat(16)}.${'A'.repeat(22)}`;
}
