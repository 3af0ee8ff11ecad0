import type { Projector } from '../../../projections/projector';
import { ReplayErrors } from './replay.errors';

/**
 * The projectors named (all of them when none is), in the order of `all`. Names are checked: an
 * unknown one, or a projector that reads a table of another left out (`Projector.reads`), is a
 * 400 (40070, 40071): a shadow build of it would read that table's live copy, at another position
 * of the log than its own.
 */
export function selectProjections(
  all: readonly Projector[],
  names: readonly string[] = [],
): Projector[] {
  const known = all.map((p) => p.name);
  if (names.length === 0) return [...all];
  const wanted = new Set(names);
  const unknown = [...wanted].filter((n) => !known.includes(n));
  if (unknown.length > 0) throw ReplayErrors.unknownProjection(unknown, known);
  const chosen = all.filter((p) => wanted.has(p.name));
  const owners = new Map(all.flatMap((p) => p.tables.map((t) => [t, p.name] as const)));
  const missing = chosen.flatMap((p) =>
    (p.reads ?? []).flatMap((table) => {
      const owner = owners.get(table);
      return owner && !wanted.has(owner) ? [{ projection: p.name, reads: table, owner }] : [];
    }),
  );
  if (missing.length > 0) throw ReplayErrors.readEachOther(missing);
  return chosen;
}

/** The tables the projectors upsert over and over (Projector.upserted). */
export function upsertedTablesOf(projectors: readonly Projector[]): string[] {
  return projectors.flatMap((p) => p.upserted ?? []);
}

/** Every table of the projectors, in their order. */
export function tablesOf(projectors: readonly Projector[]): string[] {
  return projectors.flatMap((p) => p.tables);
}
