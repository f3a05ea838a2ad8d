/**
 * Loading migrations and checksumming them.
 *
 * Contract:
 * - `loadMigrationsFromDir(dir)` imports every `*.ts` file in `dir` (non-recursive, sorted by name;
 *   files starting with `_` or `.` and `*.d.ts` are ignored: `isMigrationModule` in file-name.ts; a name breaking
 *   the file-name rule is loaded too, and `check` and `lint` report it). Each must default-export a Migration
 *   (the value `defineMigration` returns). Any failure names the file. Needs a TS-capable loader
 *   (tsx) — the CLI and tests have it; Lambda bundles use `fromModules` instead.
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
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationGraphError } from '../errors.ts';
import { isMigrationModule } from './file-name.ts';
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

/** Imports every migration file in `dir`. Errors name the file. */
export async function loadMigrationsFromDir(dir: string): Promise<LoadedMigration[]> {
  const absolute = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(absolute)).filter(isMigrationModule).sort();
  } catch (error) {
    throw new MigrationGraphError(`cannot read the migrations directory ${absolute}: ${(error as Error).message}`, {
      cause: error,
      context: { dir: absolute },
    });
  }
  const entries: Array<{ file: string; migration: Migration }> = [];
  for (const name of names) {
    const file = join(dir, name);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(join(absolute, name)).href)) as { default?: unknown };
    } catch (error) {
      const message = (error as Error).message;
      // A folder outside an ESM package makes Node load the .ts files as CommonJS, which cannot import the ESM model.
      const hint = /require\(\) (of )?ES Module|Cannot use import statement outside a module/i.test(message)
        ? ` (the migrations folder must be inside a package whose package.json has "type": "module")`
        : '';
      throw new MigrationGraphError(`${file}: cannot load migration: ${message}${hint}`, {
        cause: error,
        context: { file },
      });
    }
    entries.push({ file, migration: mod.default as Migration });
  }
  return fromModules(entries);
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
