import { InvalidEnvelopeError, type KeyRing } from '../../crypto/key-ring';
import { findEnvelopes, openSealedFields } from './sealed-fields';

/** An envelope of `uid` in the e1 format (its bytes do not matter to a fake key ring). */
const envelope = (uid: string, n: number) =>
  [
    'e1',
    Buffer.from(uid).toString('base64url'),
    Buffer.alloc(12, n).toString('base64url'),
    Buffer.alloc(20, n).toString('base64url'),
  ].join('.');

/** Opens envelopes by a table: a string opens, null does not (no key), BAD is tampered. */
/** What a fake key ring answers for an envelope; BAD: it fails authentication. */
const BAD = Symbol('bad');
type Answer = string | null | typeof BAD;

function fakeRing(table: Map<string, Answer>, destroyed: string[]): KeyRing {
  const open = (e: string) => {
    const v = table.get(e);
    if (v === BAD) throw new InvalidEnvelopeError('tampered');
    return v ?? null;
  };
  return {
    decryptMany: async (es: string[]) => es.map(open),
    decrypt: async (e: string) => open(e),
    destroyedAmong: async (uids: string[]) => new Set(uids.filter((u) => destroyed.includes(u))),
  } as unknown as KeyRing;
}

describe('sealed fields of event data', () => {
  const alice = envelope('alice', 1);
  const bob = envelope('bob', 2);
  const carol = envelope('carol', 3);
  const tampered = envelope('dave', 4);

  it('are found wherever they sit, with their paths and owners', () => {
    const found = findEnvelopes({ content: alice, items: [{ name: bob }, 'plain'], n: 1 });
    expect(found.map((f) => [f.path, f.owner])).toEqual([
      ['content', 'alice'],
      ['items[0].name', 'bob'],
    ]);
  });

  it('are opened, or null and marked erased, or left and marked, without changing the input', async () => {
    // Given alice's key destroyed, bob's live, carol's missing, dave's envelope tampered
    const ring = fakeRing(
      new Map<string, Answer>([
        [alice, null],
        [bob, 'hi from bob'],
        [carol, null],
        [tampered, BAD],
      ]),
      ['alice'],
    );
    const data = [
      { content: alice },
      { content: bob, seqno: 2 },
      { content: carol },
      { x: tampered },
    ];

    // When opened
    const opened = await openSealedFields(data, ring);

    // Then
    expect(opened).toEqual([
      {
        data: { content: null },
        sealed: [{ path: 'content', owner: 'alice', opened: false, erased: true }],
      },
      {
        data: { content: 'hi from bob', seqno: 2 },
        sealed: [{ path: 'content', owner: 'bob', opened: true }],
      },
      {
        data: { content: null },
        sealed: [{ path: 'content', owner: 'carol', opened: false, reason: 'no_key' }],
      },
      {
        data: { x: tampered },
        sealed: [{ path: 'x', owner: 'dave', opened: false, reason: 'invalid' }],
      },
    ]);
    expect(data[0].content).toBe(alice);
  });

  it('are only listed without a key ring', async () => {
    const [opened] = await openSealedFields([{ content: bob }], null);
    expect(opened).toEqual({
      data: { content: bob },
      sealed: [{ path: 'content', owner: 'bob', opened: false, reason: 'no_master_key' }],
    });
  });
});
