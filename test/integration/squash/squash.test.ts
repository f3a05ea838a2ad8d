import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { lintPaths } from '../../../lambdas/core/lint/lint.ts';
import { loadMigrationsFromDir } from '../../../lambdas/core/migrations/load-dir.ts';
import { createMigrator } from '../../../lambdas/core/migrations/runner.ts';
import { squashCommand } from '../../../scripts/cli/commands/squash.ts';
import { catalogDump, type CatalogDump } from '../../support/catalog-dump.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { scratchDir } from '../../support/cli.ts';

/**
 * `offpeak squash` on the repo's own seed migrations, applied for real (PGlite by default,
 * PostgreSQL with TEST_DATABASE_URL): the squash of base → 202508230001 must leave the same
 * schema as the originals whichever way a database gets there.
 */
const repo = resolve(import.meta.dirname, '../../..');
const TO = '202508230001';
const SQUASH = '202509010000';
const ORIGINALS = ['202508010000', '202508190001', '202508230001'];

let db: TestDatabase;
let root: string;
let originalsDir: string;
let squashDir: string;
let prunedDir: string;
let reference: CatalogDump;

/** Copies the seed migrations (they import 'offpeak', which resolves anywhere inside this package). */
function copySeeds(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(join(repo, 'migrations')).filter((n) => /^\d{12}_.*\.ts$/.test(n))) {
    copyFileSync(join(repo, 'migrations', name), join(dir, name));
  }
}

async function reset(): Promise<void> {
  await db.client.query(sql`DROP SCHEMA IF EXISTS offpeak CASCADE`);
  await db.client.query(sql`DROP SCHEMA IF EXISTS public CASCADE`);
  await db.client.query(sql`CREATE SCHEMA public`);
}

async function upgrade(dir: string, target = 'head') {
  const migrator = createMigrator({ client: db.client, migrations: await loadMigrationsFromDir(dir), actor: 'test:squash', pollIntervalMs: 50 });
  const result = await migrator.runToCompletion('up', target);
  expect(result.error).toBeUndefined();
  expect(result.status).toBe('done');
  return { result, migrator };
}

async function appliedInLedger(): Promise<string[]> {
  const { rows } = await db.client.query<{ revision: string }>(sql`SELECT revision FROM offpeak.applied_migrations ORDER BY revision`);
  return rows.map((r) => r.revision);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Inside the repository: the seed migrations import 'offpeak', which resolves within this package.
  root = scratchDir('squash').path;
  originalsDir = join(root, 'originals');
  squashDir = join(root, 'squashed');
  prunedDir = join(root, 'pruned');
  copySeeds(originalsDir);
  copySeeds(squashDir);

  // The CLI verb writes the squash file (and the bundle registry) into squashDir.
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const code = await squashCommand.run({ argv: ['--to', TO, '--name', 'seed', '--rev-id', SQUASH, '--migrations', squashDir], stdout, stderr, env: {}, cwd: root });
  expect(code).toBe(0);

  // The originals deleted: what a team does once every database recorded the squash.
  mkdirSync(prunedDir);
  for (const name of readdirSync(squashDir).filter((n) => !ORIGINALS.some((r) => n.startsWith(`${r}_`)) && n !== '_index.ts')) {
    copyFileSync(join(squashDir, name), join(prunedDir, name));
  }

  await reset();
  await upgrade(originalsDir);
  reference = await catalogDump(db.client);
});

afterAll(async () => {
  await db?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('offpeak squash', () => {
  it('writes one migration replacing base → REV, with a max risk, the originals\' steps and the bundle registry', async () => {
    // The reference dump is the seed schema, not an empty one.
    expect(reference.tables.length).toBeGreaterThanOrEqual(14);
    expect(reference.indexes.filter((i) => i.includes(' idx_')).length).toBeGreaterThanOrEqual(40);
    expect(reference.constraints.some((c) => / f FOREIGN KEY/.test(c))).toBe(true);
    const files = readdirSync(squashDir);
    expect(files).toContain(`${SQUASH}_seed.ts`);
    expect(readFileSync(join(squashDir, '_index.ts'), 'utf8')).toContain(`./${SQUASH}_seed.ts`);
    const migrations = await loadMigrationsFromDir(squashDir);
    const squash = migrations.find((m) => m.revision === SQUASH)!;
    const originals = migrations.filter((m) => ORIGINALS.includes(m.revision));
    expect(squash.replaces).toEqual(ORIGINALS);
    expect(squash.downRevisions).toEqual([]);
    expect(squash.up.map((s) => s.sql)).toEqual(originals.flatMap((m) => m.up.map((s) => s.sql)));
    expect(squash.up.map((s) => [s.mode, s.lock, s.when?.extensionAvailable])).toEqual(originals.flatMap((m) => m.up.map((s) => [s.mode, s.lock, s.when?.extensionAvailable])));
    // The baseline is irreversible, so the squash is too, and says why.
    expect(squash.irreversible).toContain('202508010000');
    expect(squash.risk).toBe(originals.map((m) => m.risk).includes('high') ? 'high' : originals.map((m) => m.risk).includes('medium') ? 'medium' : 'low');
  });

  it('passes offpeak lint (no errors), before and after the originals are deleted', async () => {
    const config = resolveLintConfig({});
    for (const dir of [squashDir, prunedDir]) {
      const report = await lintPaths({ paths: [dir], config });
      expect(report.violations.filter((v) => v.severity === 'error')).toEqual([]);
    }
  });

  it('a fresh database runs the squash instead of the originals, and gets the same schema', async () => {
    await reset();
    const { result } = await upgrade(squashDir);
    expect(result.applied).toEqual([SQUASH, '803b93aca2d2']);
    expect(await appliedInLedger()).toEqual(['803b93aca2d2', SQUASH].sort());
    expect(await catalogDump(db.client)).toEqual(reference);
  });

  it('a database with some originals applied runs the missing ones, then records the squash', async () => {
    await reset();
    await upgrade(originalsDir, '202508190001');
    const { result } = await upgrade(squashDir);
    expect(result.applied).toEqual(expect.arrayContaining(['202508230001', '803b93aca2d2']));
    expect(result.applied).not.toContain('202508010000');
    expect(result.recorded).toContain(SQUASH);
    expect(await catalogDump(db.client)).toEqual(reference);
  });

  it('a database with all originals applied records the squash without running anything; deleting the originals changes nothing', async () => {
    await reset();
    await upgrade(originalsDir);
    const { result } = await upgrade(squashDir);
    expect(result.applied).toEqual([]);
    expect(result.recorded).toEqual([SQUASH]);
    expect(await catalogDump(db.client)).toEqual(reference);

    // Originals deleted: the ledger still resolves, nothing is pending, nothing runs.
    const pruned = createMigrator({ client: db.client, migrations: await loadMigrationsFromDir(prunedDir), actor: 'test:squash' });
    await pruned.check();
    const status = await pruned.status();
    expect(status.pending).toEqual([]);
    expect(status.current).toEqual(['803b93aca2d2']);
    const again = await pruned.runToCompletion('up', 'head');
    expect(again.applied).toEqual([]);
    expect(await catalogDump(db.client)).toEqual(reference);
  });

  it('after deleting the originals a fresh database still reaches the same schema', async () => {
    await reset();
    const { result } = await upgrade(prunedDir);
    expect(result.applied).toEqual([SQUASH, '803b93aca2d2']);
    expect(await catalogDump(db.client)).toEqual(reference);
  });

  it('refuses bad ranges with a clear error and writes nothing', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const run = (argv: string[]) => squashCommand.run({ argv: [...argv, '--migrations', squashDir], stdout, stderr, env: {}, cwd: root });
    await expect(run(['--to', '803b93aca2d2', '--rev-id', '202509020000'])).rejects.toThrow(/already a squash/);
    await expect(run(['--to', 'nope', '--rev-id', '202509020000'])).rejects.toThrow(/nope/);
    await expect(run(['--rev-id', '202509020000'])).rejects.toThrow(/--to REV is required/);
    await expect(run(['--to', TO, '--name', 'Bad-Name'])).rejects.toThrow(/snake_case/);
    expect(readdirSync(squashDir).filter((n) => n.startsWith('202509020000'))).toEqual([]);
  });
});

describe('offpeak squash of a reversible range', () => {
  const model = `${repo}/lambdas/core/migrations/model.ts`;
  const files: Record<string, string> = {
    '202601010000_create_gadgets.ts': `import { createIndex, defineMigration, sqlStep } from '${model}';
export default defineMigration({
  revision: '202601010000', downRevision: null, description: 'gadgets', risk: 'low',
  up: [
    sqlStep('CREATE SCHEMA IF NOT EXISTS sqr', { lock: 'none' }),
    sqlStep('CREATE TABLE sqr.gadgets (id bigint PRIMARY KEY, name text)'),
    createIndex({ name: 'gadgets_name_key', schema: 'sqr', table: 'gadgets', columns: ['name'], concurrently: false }),
  ],
  down: [sqlStep('DROP TABLE sqr.gadgets'), sqlStep('DROP SCHEMA sqr', { lock: 'none' })],
  lint: { disable: [{ rule: 'idempotency/index-prefix', reason: 'the app names this index in a query hint' }] },
});
`,
    '202601020000_rename_gadget_name.ts': `import { defineMigration, sqlStep } from '${model}';
export default defineMigration({
  revision: '202601020000', downRevision: '202601010000', description: 'name → title', risk: 'medium',
  rollbackPlan: 'offpeak downgrade 202601010000 renames title back to name',
  up: [sqlStep('ALTER TABLE sqr.gadgets RENAME COLUMN name TO title'), sqlStep('ALTER TABLE sqr.gadgets ADD COLUMN color text')],
  down: [sqlStep('ALTER TABLE sqr.gadgets DROP COLUMN color'), sqlStep('ALTER TABLE sqr.gadgets RENAME COLUMN title TO name')],
  lint: { disable: [{ rule: 'locking/rename', reason: 'gadgets is new and unused' }] },
});
`,
    '202601030000_gadget_color_index.ts': `import { createIndex, defineMigration } from '${model}';
export default defineMigration({
  revision: '202601030000', downRevision: '202601020000', description: 'color index', risk: 'low',
  up: [createIndex({ name: 'idx_gadgets_color', schema: 'sqr', table: 'gadgets', columns: ['color'] })],
});
`,
  };
  let dir: string;

  beforeAll(async () => {
    dir = join(root, 'reversible');
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const code = await squashCommand.run({
      argv: ['--to', '202601030000', '--name', 'gadgets', '--rev-id', '202601040000', '--migrations', dir],
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      env: {},
      cwd: root,
    });
    expect(code).toBe(0);
  });

  it('carries the max risk, every rollback plan, the overrides and the inverse chain', async () => {
    const squash = (await loadMigrationsFromDir(dir)).find((m) => m.revision === '202601040000')!;
    expect(squash.risk).toBe('medium');
    expect(squash.rollbackPlan).toContain('202601020000: offpeak downgrade 202601010000 renames title back to name');
    // The prefix override is still needed; the rename is on a table the squash itself creates, so its override is not.
    expect(squash.lint.disable).toEqual([{ rule: 'idempotency/index-prefix', reason: '202601010000: the app names this index in a query hint' }]);
    expect(squash.mixedLocking?.reason).toMatch(/squash/);
    expect(squash.down.map((s) => s.sql)).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS sqr.idx_gadgets_color',
      'ALTER TABLE sqr.gadgets DROP COLUMN color',
      'ALTER TABLE sqr.gadgets RENAME COLUMN title TO name',
      'DROP TABLE sqr.gadgets',
      'DROP SCHEMA sqr',
    ]);
    const report = await lintPaths({ paths: [join(dir, '202601040000_gadgets.ts')], config: resolveLintConfig({}) });
    expect(report.violations).toEqual([]);
  });

  it('upgrades to the same schema as the originals, and downgrades back to base', async () => {
    await reset();
    const empty = await catalogDump(db.client);
    const originals = join(root, 'reversible-originals');
    mkdirSync(originals);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(originals, name), text);
    await upgrade(originals);
    const expected = await catalogDump(db.client);
    expect(expected.columns.some((c) => c.startsWith('sqr.gadgets.title'))).toBe(true);

    await reset();
    await db.client.query(sql`DROP SCHEMA IF EXISTS sqr CASCADE`);
    const { result, migrator } = await upgrade(dir);
    expect(result.applied).toEqual(['202601040000']);
    expect(await catalogDump(db.client)).toEqual(expected);

    const down = await migrator.runToCompletion('down', 'base');
    expect(down.status).toBe('done');
    expect(await appliedInLedger()).toEqual([]);
    expect(await catalogDump(db.client)).toEqual(empty);
  });
});
