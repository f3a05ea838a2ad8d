import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../scripts/cli/main.ts';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const seedMigrationsDir = join(repoRoot, 'migrations');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(chunks: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
}

/** Runs the offpeak CLI in this process with captured output (DATABASE_URL cleared unless given; cwd the repository unless given). */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = {}, options: { cwd?: string } = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: sink(out), stderr: sink(err), env: { ...process.env, DATABASE_URL: undefined, ...env }, cwd: options.cwd ?? repoRoot });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A scratch directory inside the repo (migration files import 'offpeak', which resolves inside this package). */
export function scratchDir(prefix: string): { path: string; dispose(): void } {
  const base = join(repoRoot, '.offpeak', 'test');
  mkdirSync(base, { recursive: true });
  const path = mkdtempSync(join(base, `${prefix}-`));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

export interface SyntheticMigration {
  revision: string;
  downRevision: string | null;
  /** Table created transactionally and index built concurrently; both derived from the revision. */
  table?: string;
  file?: string;
}

/** Writes a migration: one table (transactional) … its index comes in a second, standalone migration shape. */
export function writeMigration(dir: string, m: SyntheticMigration & { body?: string }): string {
  const file = m.file ?? `${m.revision}_${m.table ?? 'm'}.ts`;
  const table = m.table ?? `t_${m.revision}`;
  const body =
    m.body ??
    `up: [
    sqlStep('CREATE TABLE public.${table} (id bigint PRIMARY KEY, v integer NOT NULL DEFAULT 0)', { tables: ['${table}'] }),
  ],
  down: [sqlStep('DROP TABLE IF EXISTS public.${table}')],`;
  writeFileSync(
    join(dir, file),
    `import { createIndex, defineMigration, sqlStep } from 'offpeak';
void createIndex;
export default defineMigration({
  revision: '${m.revision}',
  downRevision: ${m.downRevision === null ? 'null' : `'${m.downRevision}'`},
  description: 'synthetic ${m.revision}',
  risk: 'low',
  ${body}
});
`,
  );
  return join(dir, file);
}

export interface CliTarget {
  /** The CLI's target options: a scratch PostgreSQL database with TEST_DATABASE_URL, else an on-disk PGlite. */
  args: string[];
  /** The PostgreSQL URL, when the target is one. */
  url: string | undefined;
  dispose(): Promise<void>;
}

/** This test file's database for the CLI, in `dir` when it is PGlite (created by the first verb that writes). */
export async function openCliTarget(dir: string): Promise<CliTarget> {
  const { createTestDatabase, testDatabaseUrl } = await import('./database.ts');
  if (!testDatabaseUrl) return { args: ['--pglite-dir', join(dir, 'db')], url: undefined, dispose: async () => {} };
  const db = await createTestDatabase();
  return { args: ['--database-url', db.url!], url: db.url!, dispose: () => db.dispose() };
}
