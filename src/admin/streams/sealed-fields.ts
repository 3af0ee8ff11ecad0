import { InvalidEnvelopeError, KeyRing } from '../../crypto/key-ring';

/**
 * A sealed field of an event's data (an `e1.` envelope: src/crypto/key-ring.ts), and what
 * inspection made of it. Every envelope is found wherever it sits in the data, not only in the
 * fields known today (MessageSent's `content`), so a field sealed later is shown too.
 */
export interface SealedField {
  /** Where in the data: `content`, `items[2].name`. */
  readonly path: string;
  /** The user whose data key sealed it. */
  readonly owner: string;
  /** True when the data shows the plaintext in place of the envelope. */
  readonly opened: boolean;
  /** The owner's key is destroyed (the user was erased): the data shows null, for good. */
  readonly erased?: true;
  /**
   * Why it was not opened, other than erasure: `no_key` (no key for the owner in this
   * installation: the data shows null), `no_master_key` (nothing could be opened: the envelope is
   * shown), `invalid` (tampered or not sealed with the owner's key: the envelope is shown).
   */
  readonly reason?: 'no_key' | 'no_master_key' | 'invalid';
}

export interface OpenedData {
  /** The data with every envelope replaced: its plaintext, or null; the input is not changed. */
  readonly data: unknown;
  readonly sealed: SealedField[];
}

interface Found {
  readonly holder: Record<string, unknown> | unknown[];
  readonly key: string | number;
  readonly path: string;
  readonly envelope: string;
  readonly owner: string;
}

/**
 * Opens every sealed field of a page of events' data with `keyRing` (one key query for the
 * page), or, without a key ring, only lists them.
 * @throws KeyUnwrapError when MASTER_KEY does not open a stored key (a configuration error).
 */
export async function openSealedFields(
  datas: readonly unknown[],
  keyRing: KeyRing | null,
): Promise<OpenedData[]> {
  const copies = datas.map((d) => (d === undefined ? d : (structuredClone(d) as unknown)));
  const found = copies.map((d) => findEnvelopes(d));
  const all = found.flat();
  const results = new Map<Found, Omit<SealedField, 'path' | 'owner'>>();
  if (!keyRing) {
    for (const f of all) results.set(f, { opened: false, reason: 'no_master_key' });
  } else if (all.length > 0) {
    const plain = await openEach(
      keyRing,
      all.map((f) => f.envelope),
    );
    const unopened = all.filter((_, i) => plain[i] === null).map((f) => f.owner);
    const destroyed = await keyRing.destroyedAmong(unopened);
    all.forEach((f, i) => {
      const text = plain[i];
      if (typeof text === 'string') {
        f.holder[f.key as never] = text as never;
        results.set(f, { opened: true });
      } else if (text === null) {
        f.holder[f.key as never] = null as never;
        results.set(
          f,
          destroyed.has(f.owner)
            ? { opened: false, erased: true }
            : { opened: false, reason: 'no_key' },
        );
      } else {
        results.set(f, { opened: false, reason: 'invalid' });
      }
    });
  }
  return copies.map((data, i) => ({
    data,
    sealed: found[i].map((f) => ({ path: f.path, owner: f.owner, ...results.get(f)! })),
  }));
}

/**
 * Opens a batch at once; if one envelope of it is invalid, each on its own so that only that one
 * is marked (`undefined`).
 */
async function openEach(
  keyRing: KeyRing,
  envelopes: readonly string[],
): Promise<(string | null | undefined)[]> {
  try {
    return await keyRing.decryptMany(envelopes);
  } catch (err) {
    if (!(err instanceof InvalidEnvelopeError)) throw err;
  }
  return Promise.all(
    envelopes.map((e) =>
      keyRing.decrypt(e).catch((err: unknown) => {
        if (err instanceof InvalidEnvelopeError) return undefined;
        throw err;
      }),
    ),
  );
}

/** Every envelope in `value`, depth first, with where it sits. */
export function findEnvelopes(value: unknown, path = '', depth = 0): Found[] {
  if (depth > 32 || value === null || typeof value !== 'object') return [];
  const out: Found[] = [];
  const visit = (holder: Found['holder'], key: string | number, child: unknown, at: string) => {
    const owner = KeyRing.ownerOf(child);
    if (owner !== null) out.push({ holder, key, path: at, envelope: child as string, owner });
    else out.push(...findEnvelopes(child, at, depth + 1));
  };
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => visit(value, i, item, `${path}[${i}]`));
  } else {
    const record = value as Record<string, unknown>;
    for (const [key, item] of Object.entries(record)) {
      visit(record, key, item, path ? `${path}.${key}` : key);
    }
  }
  return out;
}
