import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import { fromModules } from '../migrations/loader.ts';
import type { Migration } from '../migrations/model.ts';
import type { LintConfig } from './config.ts';
import { lintMigrationModule, type MigrationModule } from './migration-module.ts';
import { lintSqlText } from './sql-file.ts';
import { emptyKnowledge, type SchemaKnowledge } from './unit.ts';
import type { Violation } from './violation.ts';

/**
 * `offpeak lint`: migration modules (every statement of every step, up and down) and plain
 * .sql files. A directory means its *.ts migration modules and *.sql files (not recursive;
 * names starting with _ or . and *.d.ts are skipped, as the loader does). What a migration
 * establishes (a validated NOT NULL check) counts for its descendants in the migration graph
 * (down revisions), never for a migration merely later in file order; .sql files stand alone.
 */
export interface LintReport {
  files: string[];
  violations: Violation[];
  errors: number;
  warnings: number;
}

export interface LintOptions {
  /** Files or directories. Relative paths are reported as given. */
  paths: readonly string[];
  config: LintConfig;
}

export async function lintPaths({ paths, config }: LintOptions): Promise<LintReport> {
  const modules: string[] = [];
  const sqlFiles: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: unknown) => {
      throw new ConfigError(`${path}: no such file or directory`, { cause: error });
    });
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => !n.startsWith('_') && !n.startsWith('.')).sort();
      modules.push(...names.filter((n) => n.endsWith('.ts') && !n.endsWith('.d.ts')).map((n) => join(path, n)));
      sqlFiles.push(...names.filter((n) => n.endsWith('.sql')).map((n) => join(path, n)));
    } else if (extname(path) === '.ts') {
      modules.push(path);
    } else if (extname(path) === '.sql') {
      sqlFiles.push(path);
    } else {
      throw new ConfigError(`${path}: lint takes .ts migration modules, .sql files or directories`);
    }
  }
  const unique = <T>(xs: T[]) => [...new Set(xs)];
  const moduleFiles = unique(modules).sort((a, b) => baseName(a).localeCompare(baseName(b)));
  const violations: Violation[] = [];

  // Imports run concurrently (the TS transform is the slow part and runs off-thread); rules run in graph order.
  const loaded = await mapLimit(moduleFiles, 16, loadModule);
  const knowledgeAfter = new Map<string, SchemaKnowledge>();
  for (const mod of graphOrder(loaded)) {
    const knowledge = ancestorKnowledge(mod, knowledgeAfter);
    violations.push(...(await lintMigrationModule(mod, config, knowledge)));
    if (mod.migration) knowledgeAfter.set(mod.migration.revision, knowledge);
  }
  for (const file of unique(sqlFiles)) violations.push(...(await lintSqlText(file, await readFile(file, 'utf8'), config)));

  const files = [...moduleFiles, ...unique(sqlFiles)];
  const order = new Map(files.map((f, i) => [f, i]));
  violations.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || (a.line ?? 0) - (b.line ?? 0));
  return {
    files,
    violations,
    errors: violations.filter((v) => v.severity === 'error').length,
    warnings: violations.filter((v) => v.severity === 'warning').length,
  };
}

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/**
 * Parents before children (down revisions), file order among the rest. Lint takes any set of
 * files, so a parent outside the set, or a cycle (which `offpeak check` reports), is no error here:
 * such a migration just learns nothing from it.
 */
function graphOrder(mods: readonly MigrationModule[]): MigrationModule[] {
  const byRevision = new Map(mods.flatMap((m) => (m.migration ? [[m.migration.revision, m] as const] : [])));
  const out: MigrationModule[] = [];
  const state = new Map<MigrationModule, 'visiting' | 'done'>();
  const visit = (m: MigrationModule) => {
    if (state.has(m)) return;
    state.set(m, 'visiting');
    for (const parent of m.migration?.downRevisions ?? []) {
      const p = byRevision.get(parent);
      if (p) visit(p);
    }
    state.set(m, 'done');
    out.push(m);
  };
  mods.forEach(visit);
  return out;
}

/** The union of what the migration's parents (and so all its ancestors) established. */
function ancestorKnowledge(mod: MigrationModule, after: ReadonlyMap<string, SchemaKnowledge>): SchemaKnowledge {
  const knowledge = emptyKnowledge();
  for (const parent of mod.migration?.downRevisions ?? []) {
    const k = after.get(parent);
    if (!k) continue;
    for (const c of k.notNullChecks) knowledge.notNullChecks.add(c);
    for (const [key, column] of k.notValidNotNull) knowledge.notValidNotNull.set(key, column);
  }
  return knowledge;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Imports one migration file; a failure becomes part of the result, not an exception. */
export async function loadModule(file: string): Promise<MigrationModule> {
  const source = await readFile(file, 'utf8');
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    return { file, source, loadError: error as Error, extraMigrationExports: [] };
  }
  const extraMigrationExports = Object.entries(mod)
    .filter(([name, value]) => name !== 'default' && isMigration(value))
    .map(([name]) => name);
  try {
    const [migration] = fromModules([{ file, migration: mod['default'] as Migration }]);
    return { file, source, migration, extraMigrationExports };
  } catch (error) {
    return { file, source, loadError: error as Error, extraMigrationExports };
  }
}

function isMigration(value: unknown): boolean {
  const m = value as Partial<Migration> | null;
  return typeof m === 'object' && m !== null && typeof m.revision === 'string' && Array.isArray(m.up) && Array.isArray(m.down);
}
