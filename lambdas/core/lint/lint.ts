import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import { fromModules } from '../migrations/loader.ts';
import type { Migration } from '../migrations/model.ts';
import type { LintConfig } from './config.ts';
import { lintMigrationModule, type MigrationModule } from './migration-module.ts';
import { lintSqlText } from './sql-file.ts';
import type { SchemaKnowledge } from './statement-checks.ts';
import type { Violation } from './violation.ts';

/**
 * `offpeak lint`: migration modules (every statement of every step, up and down) and plain
 * .sql files. A directory means its *.ts migration modules and *.sql files (not recursive;
 * names starting with _ or . and *.d.ts are skipped, as the loader does). Modules are linted
 * in file-name order (timestamp order), so what one migration establishes (a validated
 * NOT NULL check) counts for the later ones.
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
  const knowledge: SchemaKnowledge = { notNullChecks: new Set() };
  const violations: Violation[] = [];

  // Imports run concurrently (the TS transform is the slow part and runs off-thread); rules run in order.
  const loaded = await mapLimit(moduleFiles, 16, loadModule);
  for (const mod of loaded) violations.push(...(await lintMigrationModule(mod, config, knowledge)));
  for (const file of unique(sqlFiles)) violations.push(...(await lintSqlText(file, await readFile(file, 'utf8'), config, knowledge)));

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
