import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { lintPaths } from '../../../lambdas/core/lint/lint.ts';

/**
 * What one migration establishes (a validated CHECK (col IS NOT NULL)) counts for its descendants in
 * the migration graph, never for a sibling branch or a file that merely sorts later; .sql files
 * stand alone, whatever order they are given in.
 */
const config = resolveLintConfig({});
const model = pathToFileURL(resolve('lambdas/core/migrations/model.ts')).href;

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'offpeak-lint-graph-'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function migration(revision: string, parent: string | null, steps: string[]): string {
  return `import { defineMigration, sqlStep } from '${model}';
export default defineMigration({
  revision: '${revision}',
  downRevision: ${parent === null ? 'null' : `'${parent}'`},
  description: '${revision}',
  risk: 'low',
  up: [${steps.join(', ')}],
  down: { irreversible: 'test' },
});
`;
}

const checkAdded = "sqlStep('ALTER TABLE public.widgets ADD CONSTRAINT widgets_name_not_null CHECK (name IS NOT NULL) NOT VALID')";
const checkValidated = "sqlStep('ALTER TABLE public.widgets VALIDATE CONSTRAINT widgets_name_not_null', { mode: 'standalone', lock: 'none' })";
const setNotNull = "sqlStep('ALTER TABLE public.widgets ALTER COLUMN name SET NOT NULL')";

describe('the NOT NULL recipe across migrations', () => {
  it('counts a check validated by an ancestor, not by a sibling branch that sorts earlier', async () => {
    // Prepare: r1 validates the check; r2 descends from r1; r3 branches off r0 beside r1.
    const dir = scratch({
      '202601010000_root.ts': migration('r0', null, ["sqlStep('CREATE TABLE public.widgets (id bigint PRIMARY KEY, name text)')"]),
      '202601020000_check.ts': migration('r1', 'r0', [checkAdded, checkValidated]),
      '202601030000_not_null.ts': migration('r2', 'r1', [setNotNull]),
      '202601040000_sibling_not_null.ts': migration('r3', 'r0', [setNotNull]),
    });
    // Act
    const report = await lintPaths({ paths: [dir], config });
    // Assess
    expect(report.violations.map((v) => [v.revision, v.rule])).toEqual([['r3', 'locking/set-not-null']]);
  });

  it('learns across steps split over two migrations: ADD NOT VALID in one, VALIDATE in the next', async () => {
    const dir = scratch({
      '202601010000_root.ts': migration('r0', null, ["sqlStep('CREATE TABLE public.widgets (id bigint PRIMARY KEY, name text)')"]),
      '202601020000_add_check.ts': migration('r1', 'r0', [checkAdded]),
      '202601030000_validate.ts': migration('r2', 'r1', [checkValidated]),
      '202601040000_not_null.ts': migration('r3', 'r2', [setNotNull]),
    });
    const report = await lintPaths({ paths: [dir], config });
    expect(report.violations).toEqual([]);
  });

  it('a child whose parent is not linted learns nothing from it', async () => {
    const dir = scratch({ '202601030000_not_null.ts': migration('r2', 'r1', [setNotNull]) });
    const report = await lintPaths({ paths: [dir], config });
    expect(report.violations.map((v) => v.rule)).toEqual(['locking/set-not-null']);
  });
});

describe('.sql files stand alone', () => {
  const files = {
    'a-validate.sql': "SET lock_timeout = '2s';\nSET statement_timeout = '40s';\nALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;\n",
    'b-set-not-null.sql': "SET lock_timeout = '2s';\nSET statement_timeout = '40s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
  };

  it.each([
    ['a, b', ['a-validate.sql', 'b-set-not-null.sql']],
    ['b, a', ['b-set-not-null.sql', 'a-validate.sql']],
  ])('a check validated in another file does not count (order %s)', async (_, order) => {
    const dir = scratch(files);
    const report = await lintPaths({ paths: order.map((f) => join(dir, f)), config });
    expect(report.violations.map((v) => [v.file.slice(dir.length + 1), v.rule])).toEqual([['b-set-not-null.sql', 'locking/set-not-null']]);
  });

  it('a VALIDATE of a check added elsewhere, naming the column, makes SET NOT NULL safe (the recipe spread over files)', async () => {
    const dir = scratch({
      'c.sql': "SET lock_timeout = '2s';\nSET statement_timeout = '40s';\nALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;\nALTER TABLE foo DROP CONSTRAINT foo_bar_not_null;\n",
      'd.sql': "SET lock_timeout = '2s';\nSET statement_timeout = '40s';\nALTER TABLE foo VALIDATE CONSTRAINT foo_baz_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;\n",
    });
    const report = await lintPaths({ paths: [dir], config });
    expect(report.violations.map((v) => [v.file.slice(dir.length + 1), v.rule])).toEqual([['d.sql', 'locking/set-not-null']]);
  });
});
