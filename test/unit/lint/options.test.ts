import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { lintPaths } from '../../../lambdas/core/lint/lint.ts';
import { runCli as run } from '../../support/cli.ts';

const bad = 'test/fixtures/lint/bad';

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'offpeak-lint-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('locations', () => {
  it('reports the .sql line of each statement, counting past non-ASCII comments', async () => {
    // Prepare
    const dir = scratch({
      'x.sql': "-- Переименование: осторожно\n-- ещё комментарий\nSET lock_timeout = '2s'; SET statement_timeout = '40s';\n\nALTER TABLE users\n  RENAME COLUMN a TO b;\nCLUSTER users;\n",
    });
    // Act
    const report = await lintPaths({ paths: [join(dir, 'x.sql')], config: resolveLintConfig({}) });
    // Assess
    expect(report.violations.map((v) => [v.rule, v.line, v.statement])).toEqual([
      ['locking/rename', 5, 'ALTER TABLE users\n  RENAME COLUMN a TO b'],
      ['locking/cluster', 7, 'CLUSTER users'],
    ]);
  });

  it('reports revision, direction, step and source line for a module statement', async () => {
    const report = await lintPaths({ paths: [`${bad}/modules/202508011213_add_fk_in_migration.ts`], config: resolveLintConfig({}) });
    expect(report.violations.map((v) => ({ rule: v.rule, revision: v.revision, direction: v.direction, step: v.step, line: v.line }))).toEqual([
      { rule: 'locking/add-constraint-validation', revision: 'd7', direction: 'up', step: 1, line: 10 },
      { rule: 'locking/alter-column-type', revision: 'd7', direction: 'up', step: 2, line: 11 },
      { rule: 'locking/alter-column-type', revision: 'd7', direction: 'down', step: 1, line: 14 },
    ]);
  });
});

describe('configuration', () => {
  it('changes severities, switches rules off and sets the index prefix', async () => {
    // Prepare
    const config = resolveLintConfig({ rules: { 'locking/rename': 'warning', 'timeouts/lock-timeout': 'off', 'timeouts/statement-timeout': 'off' }, indexPrefix: 'ix_' });
    const dir = scratch({ 'y.sql': 'ALTER TABLE users RENAME COLUMN a TO b;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_a ON users (a);\n' });
    // Act
    const report = await lintPaths({ paths: [join(dir, 'y.sql')], config });
    // Assess
    expect(report.violations.map((v) => [v.rule, v.severity])).toEqual([
      ['locking/rename', 'warning'],
      ['idempotency/index-prefix', 'error'],
    ]);
    expect(report.violations[1]!.message).toContain('ix_');
  });

  it('refuses unknown rules, bad severities and non-configurable rules', () => {
    expect(() => resolveLintConfig({ rules: { 'locking/renames': 'off' } })).toThrow(ConfigError);
    expect(() => resolveLintConfig({ rules: { 'locking/rename': 'fatal' } })).toThrow(/rules.locking\/rename/);
    expect(() => resolveLintConfig({ rules: { 'lint/disable-without-reason': 'off' } })).toThrow(/cannot be reconfigured/);
    expect(() => resolveLintConfig({ indexprefix: 'x' })).toThrow(ConfigError);
  });

  it('feature/unrelated-tables follows maxUnrelatedTables', async () => {
    const file = `${bad}/sql/unrelated-tables.sql`;
    const strict = await lintPaths({ paths: [file], config: resolveLintConfig({ maxUnrelatedTables: 4 }) });
    expect(strict.violations).toEqual([]);
  });
});

describe('offpeak lint (CLI)', () => {
  it('exits 0 on the repo migrations (warnings allowed)', async () => {
    const { code, stdout } = await run(['lint']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/0 error\(s\)/);
  });

  it('exits 1 on errors and prints rule, file:line, statement and fix', async () => {
    const { code, stdout, stderr } = await run(['lint', `${bad}/sql/set-not-null.sql`]);
    expect(code).toBe(1);
    expect(stdout).toContain(`${bad}/sql/set-not-null.sql:4  error  locking/set-not-null`);
    expect(stdout).toContain('ALTER TABLE users ALTER COLUMN email SET NOT NULL');
    expect(stdout).toMatch(/fix: first ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK \(email IS NOT NULL\) NOT VALID/);
    expect(stderr).toContain('1 error(s)');
  });

  it('--json prints the report', async () => {
    const { code, stdout } = await run(['lint', '--json', `${bad}/modules/202508011211_step_lock_none.ts`]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { errors: number; violations: Array<{ rule: string; revision: string; direction: string; step: number; line: number }> };
    expect(report.errors).toBe(1);
    expect(report.violations[0]).toMatchObject({ rule: 'timeouts/lock-timeout', revision: 'd5', direction: 'up', step: 1, line: 9 });
  });

  it('exits 2 on bad usage: unknown option, missing path, wrong file type, bad config', async () => {
    expect((await run(['lint', '--bogus'])).code).toBe(2);
    expect((await run(['lint', 'no/such/file.sql'])).code).toBe(2);
    expect((await run(['lint', 'package.json'])).code).toBe(2);
    const dir = scratch({ 'cfg.json': '{"rules": {"nope/nope": "off"}}' });
    const bad = await run(['lint', '--config', join(dir, 'cfg.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown rule "nope/nope"');
  });

  it('--rules lists every rule with its severity and doc', async () => {
    const { code, stdout } = await run(['lint', '--rules']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/concurrency\/in-transaction\s+error\s+CONCURRENTLY \(and VACUUM\) never runs inside a transaction/);
  });
});
