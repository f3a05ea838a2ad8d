import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * Installed by no-database-setup.ts for the database-free test files (vitest.config.ts): CI runs them once, not on both
 * databases, because database-files.ts found no database in them. Should one open a database all
 * the same (through production code the classification cannot see), this makes it fail, naming
 * the way out, instead of quietly running it on one database only.
 */
/** Makes opening a PostgreSQL connection or querying a PGlite throw; returns the undo. */
export function refuseDatabases(): () => void {
  const refused = (what: string) =>
    function refusedDatabase(): never {
      throw new Error(
        `${what} in a test file classified database-free (test/support/database-files.ts): CI would run it on one database only. ` +
          `Make the file's database use visible to the classification (e.g. use test/support/database.ts), so it runs on PostgreSQL and on PGlite.`,
      );
    };
  const patches: Array<[object, string, unknown]> = [
    [pg.Client.prototype, 'connect', refused('a PostgreSQL connection')],
    [pg.Pool.prototype, 'connect', refused('a PostgreSQL pool connection')],
    [pg.Pool.prototype, 'query', refused('a PostgreSQL pool query')],
    [PGlite.prototype, 'query', refused('a PGlite query')],
    [PGlite.prototype, 'exec', refused('a PGlite statement')],
    [PGlite.prototype, 'transaction', refused('a PGlite transaction')],
  ];
  const originals = patches.map(([target, key]) => [target, key, (target as Record<string, unknown>)[key]] as const);
  for (const [target, key, replacement] of patches) (target as Record<string, unknown>)[key] = replacement;
  return () => {
    for (const [target, key, original] of originals) (target as Record<string, unknown>)[key] = original;
  };
}
