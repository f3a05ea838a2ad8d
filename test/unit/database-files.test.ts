import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import config from '../../vitest.config.ts';
import { classifyTestFiles } from '../support/database-files.ts';
import { refuseDatabases } from '../support/no-database-guard.ts';
import { repoRoot } from '../support/cli.ts';

/**
 * CI runs the database files on PostgreSQL and on PGlite and the others once (.ci/run, vitest.config.ts):
 * the split must hold every test file, find a database however deep a test's helpers use it, and the
 * once-run files must fail should one open a database the split did not see.
 */
describe('the database files and the database-free ones', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'offpeak-classify-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(scratch, path)), { recursive: true });
    writeFileSync(join(scratch, path), text);
  };

  it('vitest.config.ts puts every test file of the repository in exactly one project', () => {
    // Prepare
    const { database, databaseFree } = classifyTestFiles(repoRoot);
    const projects = (config.test?.projects ?? []) as Array<{ test: { name: string; include: string[] } }>;
    const included = projects.flatMap((p) => p.test.include);

    // Assess
    expect(projects.map((p) => p.test.name).sort()).toEqual(['database', 'no-database']);
    expect(included.sort()).toEqual([...database, ...databaseFree].sort());
    expect(new Set(included).size).toBe(included.length);
    // Anchors both ways: a test built on the scratch database, and a pure renderer test
    expect(database).toContain('test/integration/migrations/resume.test.ts');
    expect(databaseFree).toContain('test/unit/render/subject.test.ts');
  });

  it('finds a database behind a chain of test-local imports, a dynamic import, PGlite or a child process', () => {
    // Prepare
    write('test/support/database.ts', 'export const db = 1;\n');
    write('test/support/helper.ts', "export const h = async () => import('./database.ts');\n");
    write('test/unit/deep/helper-user.test.ts', "import { h } from '../../support/helper.ts';\nvoid h;\n");
    write('test/unit/embedded.test.ts', "import { openPglite } from '../../lambdas/core/db/pglite.ts';\nvoid openPglite;\n");
    write('test/unit/child.test.ts', "import { spawn } from 'node:child_process';\nvoid spawn;\n");
    write('test/unit/pure.test.ts', "import { expect, it } from 'vitest';\nimport { helperless } from './pure-helper.ts';\nit('x', () => expect(helperless).toBe(1));\n");
    write('test/unit/pure-helper.ts', 'export const helperless = 1;\n');

    // Act
    const { database, databaseFree } = classifyTestFiles(scratch);

    // Assess
    expect(database).toEqual(['test/unit/child.test.ts', 'test/unit/deep/helper-user.test.ts', 'test/unit/embedded.test.ts']);
    expect(databaseFree).toEqual(['test/unit/pure.test.ts']);
  });

  it('the guard of the database-free files fails a PGlite query and a PostgreSQL connection, and lets go when undone', async () => {
    // Prepare
    const db = new PGlite();
    const client = new pg.Client({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });

    // Act
    const undo = refuseDatabases();
    let refusedQuery: unknown;
    let refusedConnect: unknown;
    try {
      refusedQuery = await Promise.resolve().then(() => db.query('SELECT 1')).catch((error: unknown) => error);
      refusedConnect = await Promise.resolve().then(() => client.connect()).catch((error: unknown) => error);
    } finally {
      undo();
    }

    // Assess
    expect(String(refusedQuery)).toMatch(/a PGlite query in a test file classified database-free .*runs on PostgreSQL and on PGlite/);
    expect(String(refusedConnect)).toMatch(/a PostgreSQL connection in a test file classified database-free/);
    expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await db.close();
  });
});
