import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allProjectors } from '../../../projections';
import type { Projector } from '../../../projections/projector';
import { selectProjections } from './projection-set';
import { ReplayErrors } from './replay.errors';

const PROJECTIONS_DIR = join(__dirname, '../../../projections');
const all = allProjectors(null as never);

/** A projector's source without its comments. */
function sourceOf(p: Projector): string {
  const file = readdirSync(PROJECTIONS_DIR)
    .filter((f) => f.endsWith('.projector.ts'))
    .map((f) => readFileSync(join(PROJECTIONS_DIR, f), 'utf8'))
    .find((text) => text.includes(`readonly name = '${p.name}'`));
  if (!file) throw new Error(`no source file declares projector ${p.name}`);
  return file.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

describe('projection sets for rebuild and verify', () => {
  it('declares, for every projector, each table of another that its SQL names (Projector.reads)', () => {
    // Given the tables each projector's code mentions
    for (const p of all) {
      const mentioned = new Set(sourceOf(p).match(/\brm_[a-z0-9_]+\b/g) ?? []);
      const foreign = [...mentioned].filter((t) => !p.tables.includes(t));
      // Then whatever is not its own is declared: a rebuild must include the owner
      expect({
        projector: p.name,
        undeclared: foreign.filter((t) => !(p.reads ?? []).includes(t)),
      }).toEqual({ projector: p.name, undeclared: [] });
    }
  });

  it('selects every projector by default, in their order, and the named ones otherwise', () => {
    expect(selectProjections(all).map((p) => p.name)).toEqual(all.map((p) => p.name));
    expect(selectProjections(all, ['sessions', 'users', 'sessions']).map((p) => p.name)).toEqual([
      'users',
      'sessions',
    ]);
  });

  it('refuses unknown names, listing the known ones', () => {
    expect(() => selectProjections(all, ['messages', 'typo'])).toThrow(
      expect.objectContaining({
        code: ReplayErrors.codes.UNKNOWN_PROJECTION,
        message: expect.stringContaining('unknown projection: typo (the projections are users,'),
      }),
    );
  });

  it('refuses a projector that reads a table whose owner is left out, naming the owner', () => {
    const reader: Projector = {
      name: 'digest',
      eventTypes: new Set(),
      tables: ['rm_digest'],
      reads: ['rm_sessions', 'rm_profiles'],
      apply: async () => undefined,
    };
    const withReader = [...all, reader];
    expect(() => selectProjections(withReader, ['digest', 'sessions'])).toThrow(
      expect.objectContaining({
        code: ReplayErrors.codes.PROJECTIONS_READ_EACH_OTHER,
        message: expect.stringContaining('digest reads rm_profiles (relations); add relations'),
      }),
    );
    expect(selectProjections(withReader, ['digest', 'sessions', 'relations'])).toHaveLength(3);
  });
});
