/**
 * Loading a migrations directory, where Node and the SQL parser are at hand (the CLI, tests, tools).
 *
 * Contract: `loadMigrationsFromDir(dir)` imports every `*.ts` file in `dir` (non-recursive, sorted by
 * name; files starting with `_` or `.` and `*.d.ts` are ignored: `isMigrationModule` in file-name.ts; a
 * name breaking the file-name rule is loaded too, and `check` and `lint` report it). Each must
 * default-export a Migration (the value `defineMigration` returns). Any failure names the file. Needs a
 * TS-capable loader (tsx). Each SQL step gets the tables its statement changes from the parser
 * (`parsedTables`, see parsed-tables.ts). Lambda bundles carry no parser and use `fromModules`
 * (loader.ts) instead, so there only declared tables count.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationGraphError } from '../errors.ts';
import { isMigrationModule } from './file-name.ts';
import { fromModules } from './loader.ts';
import type { LoadedMigration, Migration } from './model.ts';
import { withParsedTables } from './parsed-tables.ts';

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
  return withParsedTables(fromModules(entries));
}
