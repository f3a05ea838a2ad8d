import { isAbsolute, relative } from 'node:path';
import { loadMigrationsFromDir } from '../../lambdas/core/migrations/loader.ts';
import { MigrationGraph } from '../../lambdas/core/migrations/graph.ts';

/**
 * Loads the migration files and validates their graph; errors name the files.
 * Files are named relative to the working directory (migrations/2025…ts), as people type them.
 */
export async function loadGraph(dir: string): Promise<MigrationGraph> {
  const shown = isAbsolute(dir) ? relative(process.cwd(), dir) || '.' : dir;
  return MigrationGraph.build(await loadMigrationsFromDir(shown.startsWith('..') ? dir : shown));
}
