import { isAbsolute, relative } from 'node:path';
import { loadMigrationsFromDir } from '../../lambdas/core/migrations/load-dir.ts';
import { MigrationGraph } from '../../lambdas/core/migrations/graph.ts';
import type { LoadedMigration } from '../../lambdas/core/migrations/model.ts';

/** Loads the migration files; they are named relative to the working directory (migrations/2025…ts), as people type them. */
export async function loadMigrations(dir: string): Promise<LoadedMigration[]> {
  const shown = isAbsolute(dir) ? relative(process.cwd(), dir) || '.' : dir;
  return loadMigrationsFromDir(shown.startsWith('..') ? dir : shown);
}

/** Loads the migration files and validates their graph; errors name the files. */
export async function loadGraph(dir: string): Promise<MigrationGraph> {
  return MigrationGraph.build(await loadMigrations(dir));
}
