import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Which test files touch a database, derived from their text: CI runs every file on PostgreSQL and
 * runs the database files a second time on PGlite (vitest.config.ts, .ci/run). A file is a database
 * file when it, or any test-local module it imports (statically or dynamically, followed through
 * test/), is test/support/database.ts or mentions one of DATABASE_MARKERS. The rest run once, under a guard
 * (no-database-guard.ts) that fails any of them opening a PGlite or PostgreSQL connection in
 * process, so a misclassified file fails CI instead of silently losing its PGlite pass.
 */
const SCRATCH_DATABASE = join('support', 'database.ts');

const DATABASE_MARKERS: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /TEST_DATABASE_URL/, why: 'reads the PostgreSQL URL' },
  { pattern: /pglite/i, why: 'PGlite' },
  { pattern: /core\/db\/pg\.ts'|from 'pg'/, why: 'the pg client' },
  { pattern: /node:child_process|node:worker_threads/, why: 'another process or thread may open a database the guard cannot see' },
];

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g;

function testLocalImports(file: string, testRoot: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const target = resolve(dirname(file), match[1]!);
    if (!relative(testRoot, target).startsWith('..') && target.endsWith('.ts') && existsSync(target)) found.push(target);
  }
  return found;
}

/** The first marker `file` or a test-local module it imports mentions, with the module; undefined when none. */
export function databaseReason(file: string, testRoot: string): { module: string; why: string } | undefined {
  const seen = new Set<string>();
  const queue = [resolve(file)];
  while (queue.length) {
    const current = queue.shift()!;
    if (seen.has(current)) continue;
    seen.add(current);
    if (relative(testRoot, current) === SCRATCH_DATABASE) return { module: SCRATCH_DATABASE, why: 'the scratch database of test support' };
    const text = readFileSync(current, 'utf8');
    const marker = DATABASE_MARKERS.find((m) => m.pattern.test(text));
    if (marker) return { module: relative(testRoot, current), why: marker.why };
    queue.push(...testLocalImports(current, testRoot));
  }
  return undefined;
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The suite's test files (under `root`/test), split into database files and database-free ones, as paths relative to `root`. */
export function classifyTestFiles(root: string): { database: string[]; databaseFree: string[] } {
  const testRoot = join(root, 'test');
  const database: string[] = [];
  const databaseFree: string[] = [];
  for (const file of testFiles(testRoot).sort()) {
    (databaseReason(file, testRoot) ? database : databaseFree).push(relative(root, file));
  }
  return { database, databaseFree };
}
