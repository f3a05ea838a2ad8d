import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { loadMigrationsFromDir } from '../../../lambdas/core/migrations/load-dir.ts';
import { sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { statementTables, tableMismatches } from '../../../lambdas/core/migrations/parsed-tables.ts';
import { migrationTables, parseTableName, stepTables } from '../../../lambdas/core/migrations/planner.ts';
import { repoRoot, runCli, scratchDir } from '../../support/cli.ts';
import { refusal } from '../../support/refusal.ts';

describe('declared tables are read with PostgreSQL identifier rules', () => {
  it.each([
    ['users', ['public', 'users']],
    ['Users', ['public', 'users']],
    ['"Users"', ['public', 'Users']],
    ['Sales.Orders', ['sales', 'orders']],
    ['"Sales"."Order Lines"', ['Sales', 'Order Lines']],
    ['"a.b"', ['public', 'a.b']],
    ['"say ""hi"""', ['public', 'say "hi"']],
    [' s . t ', ['s', 't']],
  ])('%s → %j', (text, expected) => {
    expect(parseTableName(text)).toEqual(expected);
  });

  it.each([
    ['', /a part is missing/],
    ['a.b.c', /has 3 parts: write table or schema.table/],
    ['"open', /unterminated quote/],
    ['a..b', /unexpected "\."/],
    ['a;drop', /unexpected ";"/],
    ['""', /empty quoted part/],
  ])('refuses %j, saying why', (text, why) => {
    const e = refusal(ValidationError, () => parseTableName(text));
    expect(e.message).toMatch(why);
    expect(e.message).toContain('declared table');
  });

  it('refuses a step declaring a table that is not a name when the step is defined', () => {
    const e = refusal(ValidationError, () => sqlStep('ALTER TABLE t ADD COLUMN c int', { tables: ['t;x'] }));
    expect(e.message).toMatch(/"t;x" is not an SQL name/);
  });
});

describe('the parser names the tables a statement changes', () => {
  it.each([
    ['CREATE TABLE "Users" (id int)', [['public', 'Users']]],
    ['create table Sales.Orders (id int)', [['sales', 'orders']]],
    ['ALTER TABLE "Sales"."Orders" ADD COLUMN note text', [['Sales', 'Orders']]],
    ['ALTER TABLE ONLY public.t ALTER COLUMN c SET NOT NULL', [['public', 't']]],
    ['ALTER TABLE t RENAME TO t2', [['public', 't2']]],
    ['ALTER TABLE t RENAME COLUMN a TO b', [['public', 't']]],
    ['ALTER TABLE s.t SET SCHEMA archive', [['archive', 't']]],
    ['CREATE INDEX CONCURRENTLY i ON "My"."T" (a)', [['My', 'T']]],
    ['INSERT INTO a SELECT * FROM b', [['public', 'a']]],
    ['WITH moved AS (DELETE FROM old_rows RETURNING *) INSERT INTO new_rows SELECT * FROM moved', [['public', 'new_rows'], ['public', 'old_rows']]],
    ['UPDATE t SET a = 1 FROM u WHERE t.id = u.id', [['public', 't']]],
    ['DELETE FROM t USING u WHERE t.id = u.id', [['public', 't']]],
    ['TRUNCATE a, s.b', [['public', 'a'], ['s', 'b']]],
    ['CREATE TABLE snap AS SELECT * FROM t', [['public', 'snap']]],
    ['SELECT id INTO snap2 FROM t', [['public', 'snap2']]],
    ['REFRESH MATERIALIZED VIEW mv', [['public', 'mv']]],
    ['DROP TABLE t', []],
    ['SELECT * FROM t', []],
    ['CREATE EXTENSION IF NOT EXISTS vector', []],
    ['ALTER INDEX i RENAME TO j', []],
  ])('%s', async (statement, expected) => {
    expect(await statementTables(statement)).toEqual(expected);
  });
});

describe('loading a directory derives each step’s tables; a declaration overrides and check reports a mismatch', () => {
  let dir: { path: string; dispose(): void };
  const model = join(repoRoot, 'lambdas/core/migrations/model.ts');
  beforeAll(async () => {
    dir = scratchDir('parsed-tables');
    writeFileSync(
      join(dir.path, '202601010000_tables.ts'),
      `import { defineMigration, sqlStep } from ${JSON.stringify(model)};
export default defineMigration({
  revision: '202601010000', downRevision: null, description: 'tables', risk: 'low',
  up: [
    sqlStep('CREATE TABLE "Orders" (id int)'),
    sqlStep('ALTER TABLE "Orders" ADD COLUMN note text', { tables: ['Orders'] }),
    sqlStep('ALTER TABLE "Orders" ADD COLUMN n int', { tables: ['"Orders"'] }),
  ],
  down: [sqlStep('DROP TABLE "Orders"')],
});
`,
    );
    expect((await runCli(['check', '--migrations', dir.path, '--fix-registry'])).code).toBe(0);
  });
  afterAll(() => dir?.dispose());

  it('takes undeclared tables from the parser and declared ones as written, case-folded', async () => {
    const [m] = await loadMigrationsFromDir(dir.path);
    expect(m!.up.map(stepTables)).toEqual([[['public', 'Orders']], [['public', 'orders']], [['public', 'Orders']]]);
    expect(migrationTables(m!, 'up')).toEqual([['public', 'Orders'], ['public', 'orders']]);
    expect(m!.down.map(stepTables)).toEqual([[]]);
  });

  it('reports the step whose declaration names another table than its statement (unquoted Orders folds to orders)', async () => {
    const [m] = await loadMigrationsFromDir(dir.path);
    const mismatches = tableMismatches(m!);
    expect(mismatches).toHaveLength(1);
    expect(mismatches[0]).toMatch(/^up step 2 \(.*\) declares tables public\.orders but its statement changes public\.Orders; the declaration overrides/);
  });

  it('offpeak check prints the mismatch as a warning (text and --json)', async () => {
    const json = await runCli(['check', '--migrations', dir.path, '--json']);
    const text = await runCli(['check', '--migrations', dir.path]);
    const parsed = JSON.parse(json.stdout) as { warnings: string[]; problems: unknown[] };
    expect(parsed.warnings).toEqual([expect.stringMatching(/202601010000_tables\.ts: up step 2 .* declares tables public\.orders but its statement changes public\.Orders/)]);
    expect(text.stdout).toMatch(/^warning: .*up step 2 .*declares tables public\.orders/m);
    expect({ problems: parsed.problems, json: json.code, text: text.code }).toEqual({ problems: [], json: 0, text: 0 });
  });
});
