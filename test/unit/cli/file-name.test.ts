import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationFileNameProblem, shortNameProblem } from '../../../lambdas/core/migrations/file-name.ts';
import { runCli, scratchDir, writeMigration } from '../../support/cli.ts';

/**
 * One file-name rule: whatever `new` (and `revision`, `merge`, `squash`) writes, `check` and `lint` accept;
 * whatever they refuse, the writers refuse too. Each case runs through every verb.
 */
const cases: Array<{ name: string; valid: boolean }> = [
  { name: 'add_orders_user_id_index', valid: true },
  { name: 'v2', valid: true },
  { name: 'foo__bar', valid: false },
  { name: 'foo_', valid: false },
  { name: '_foo', valid: false },
  { name: '2fast', valid: false },
  { name: 'Add_index', valid: false },
  { name: 'x'.repeat(61), valid: false },
];

const scratch = scratchDir('file-name');
afterAll(() => scratch.dispose());

describe('the migration file-name rule', () => {
  it.each(cases)('$name: new, check and lint agree (valid: $valid)', async ({ name, valid }) => {
    // Prepare: one directory per case, with a base migration to sit on
    const dir = join(scratch.path, name.slice(0, 20));
    mkdirSync(dir, { recursive: true });
    writeMigration(dir, { revision: '202501010000', downRevision: null, file: '202501010000_base.ts' });
    await runCli(['check', '--fix-registry', '--migrations', dir]);

    // Act: new refuses or writes
    const created = await runCli(['new', name, '--rev-id', '202501010100', '--migrations', dir]);

    // Assess
    expect(shortNameProblem(name) === undefined).toBe(valid);
    expect(created.code, created.stderr).toBe(valid ? 0 : 2);
    if (!valid) expect(created.stderr).toMatch(/short name .* (is not snake_case|is longer than 60)/);
    else expect(readdirSync(dir)).toContain(`202501010100_${name}.ts`);
    // The file with that name (written by hand where new refused it; its steps filled in where new wrote it)
    const file = `202501010100_${name}.ts`;
    writeMigration(dir, { revision: '202501010100', downRevision: '202501010000', file });
    await runCli(['check', '--fix-registry', '--migrations', dir]);
    expect(migrationFileNameProblem(file) === undefined).toBe(valid);
    const check = await runCli(['check', '--json', '--migrations', dir]);
    const checkNames = (JSON.parse(check.stdout) as { problems: Array<{ message: string }> }).problems.filter((p) => p.message.includes('file name'));
    const lint = await runCli(['lint', '--json', join(dir, file)]);
    const lintNames = (JSON.parse(lint.stdout) as { violations: Array<{ rule: string }> }).violations.filter((v) => v.rule === 'naming/file-name');
    expect(check.code, check.stdout).toBe(valid ? 0 : 2);
    expect(checkNames.length, check.stdout).toBe(valid ? 0 : 1);
    expect(lintNames.length, lint.stdout).toBe(valid ? 0 : 1);
  });

  it('refuses timestamps that are not a real date, in check and lint alike', () => {
    expect(migrationFileNameProblem('202502300000_x.ts')).toMatch(/not a real date/);
    expect(migrationFileNameProblem('20250230000_x.ts')).toMatch(/12-digit/);
    expect(migrationFileNameProblem('199912312359_x.ts')).toMatch(/not a real date/);
    expect(migrationFileNameProblem('202512312359_x.ts')).toBeUndefined();
  });
});
