/**
 * Loading migrations and checksumming them.
 *
 * Contract:
 * - `loadMigrationsFromDir(dir)` (load-dir.ts, Node only: it carries the SQL parser) reads a directory.
 * - `fromModules(entries)` turns statically imported migrations into LoadedMigrations, for bundles
 *   that have no filesystem.
 * - `checksum(migration)` is sha256 over a canonical JSON form of what the migration does (revision,
 *   down revisions, each step's kind/SQL/mode/lock/condition, up and down, irreversibility, replaces),
 *   not of file bytes: it is the same in a Lambda bundle, on disk, and after reformatting the file.
 *   Descriptions, risk, rollback plans, lint overrides and declared tables are not part of it.
 *
 * Graph validation (duplicates, missing parents, cycles) is `graph.ts`'s job, not the loader's.
 */
import { createHash } from 'node:crypto';
import { MigrationGraphError } from '../errors.ts';
import type { LoadedMigration, Migration, Step } from './model.ts';

function looksLikeMigration(value: unknown): value is Migration {
  const m = value as Partial<Migration> | undefined;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.revision === 'string' &&
    Array.isArray(m.downRevisions) &&
    Array.isArray(m.up) &&
    Array.isArray(m.down) &&
    typeof m.transactional === 'object'
  );
}

/** For bundles: migrations imported statically, with the file name they came from. */
export function fromModules(entries: ReadonlyArray<{ file: string; migration: Migration }>): LoadedMigration[] {
  return entries.map(({ file, migration }) => {
    if (!looksLikeMigration(migration)) {
      throw new MigrationGraphError(`${file}: the default export is not a migration; export default defineMigration({...})`, {
        context: { file },
      });
    }
    return { ...migration, file, checksum: checksum(migration) };
  });
}

function canonicalStep(step: Step): unknown {
  const base = { kind: step.kind, sql: step.sql, mode: step.mode, lock: step.lock, when: step.when?.extensionAvailable ?? null };
  if (step.kind === 'create_index') {
    return { ...base, index: { name: step.index.name, schema: step.index.schema, table: step.index.table } };
  }
  return base;
}

/** sha256 (hex) over a canonical form of what the migration does. */
export function checksum(migration: Migration): string {
  const canonical = {
    v: 1,
    revision: migration.revision,
    downRevisions: [...migration.downRevisions].sort(),
    up: migration.up.map(canonicalStep),
    down: migration.down.map(canonicalStep),
    irreversible: migration.irreversible !== undefined,
    replaces: [...migration.replaces].sort(),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
