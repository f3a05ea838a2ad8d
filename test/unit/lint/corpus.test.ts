import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { lintPaths } from '../../../lambdas/core/lint/lint.ts';
import { RULES } from '../../../lambdas/core/lint/rules.ts';

/**
 * The corpora: every bad file names the rules it must trigger in an `expect:` header
 * comment, and must trigger exactly those (no other rule, error or warning). Good files
 * and the repo's own migrations must trigger no error.
 */
const root = 'test/fixtures/lint';
const config = resolveLintConfig({});

function expected(file: string): string[] {
  const header = /(?:--|\/\/)\s*expect:\s*(.+)/.exec(readFileSync(file, 'utf8'));
  if (!header) throw new Error(`${file} has no "expect:" header`);
  return header[1]!.split(',').map((r) => r.trim()).sort();
}

const badFiles = ['sql', 'modules'].flatMap((kind) => readdirSync(join(root, 'bad', kind)).sort().map((f) => join(root, 'bad', kind, f)));

describe('bad corpus', () => {
  it.each(badFiles)('%s is flagged with exactly its expected rules', async (file) => {
    // Prepare
    const want = expected(file);
    // Act
    const report = await lintPaths({ paths: [file], config });
    // Assess
    expect([...new Set(report.violations.map((v) => v.rule))].sort()).toEqual(want);
    for (const v of report.violations) {
      expect(v.file).toBe(file);
      expect(v.message.length).toBeGreaterThan(10);
      if (!v.rule.startsWith('lint/')) expect(v.hint.length).toBeGreaterThan(10);
    }
  });

  it('covers every configurable rule and the bookkeeping rules at least once', () => {
    const covered = new Set(badFiles.flatMap(expected));
    expect(RULES.map((r) => r.id).filter((id) => !covered.has(id))).toEqual([]);
  });
});

describe('good corpus', () => {
  it('the good .sql files have no violations', async () => {
    const dir = join(root, 'good', 'sql');
    const report = await lintPaths({ paths: readdirSync(dir).map((f) => join(dir, f)), config });
    expect(report.violations).toEqual([]);
    expect(report.files).toHaveLength(4);
  });

  it('the good migrations, linted as one folder in order, have no violations', async () => {
    const report = await lintPaths({ paths: [join(root, 'good', 'modules')], config });
    expect(report.violations).toEqual([]);
    expect(report.files).toHaveLength(8);
  });

  it('SET NOT NULL is safe only after an earlier migration validated the check', async () => {
    const alone = await lintPaths({ paths: [join(root, 'good', 'modules', '202601040000_widget_name_not_null.ts')], config });
    expect(alone.violations.map((v) => v.rule)).toEqual(['locking/set-not-null']);
  });
});

describe('the repo migrations', () => {
  it('pass offpeak lint with no violations at all (no false positives, not even warnings)', async () => {
    const report = await lintPaths({ paths: ['migrations'], config });
    expect(report.violations).toEqual([]);
    expect(report.files.length).toBeGreaterThanOrEqual(4);
  });
});
