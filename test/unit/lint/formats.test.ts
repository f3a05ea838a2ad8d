import { describe, expect, it } from 'vitest';
import { resolveLintConfig } from '../../../lambdas/core/lint/config.ts';
import { toGithubAnnotations } from '../../../lambdas/core/lint/github-annotations.ts';
import { lintPaths, type LintReport } from '../../../lambdas/core/lint/lint.ts';
import { RULES } from '../../../lambdas/core/lint/rules.ts';
import { toSarif } from '../../../lambdas/core/lint/sarif.ts';
import { runCli as cli } from '../../support/cli.ts';

/** --format sarif (GitHub code scanning) and --format github (workflow annotations). */
const bad = 'test/fixtures/lint/bad';
const files = [`${bad}/sql/rename-column.sql`, `${bad}/sql/json-column.sql`, `${bad}/modules/202508011224_drop_column_low_risk.ts`];


describe('SARIF', () => {
  it('has every rule, and a result per violation pointing at its rule, level, file and line', async () => {
    // Prepare
    const report = await lintPaths({ paths: files, config: resolveLintConfig({}) });
    // Act
    const log = toSarif(report, '1.2.3');
    // Assess
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0]!;
    expect(run.tool.driver).toMatchObject({ name: 'offpeak-lint', version: '1.2.3' });
    expect(run.tool.driver.rules!.map((r) => r.id)).toEqual(RULES.map((r) => r.id));
    expect(run.results).toHaveLength(report.violations.length);
    for (const [i, result] of run.results!.entries()) {
      const v = report.violations[i]!;
      expect(run.tool.driver.rules![result.ruleIndex!]!.id).toBe(v.rule);
      expect(result).toMatchObject({ ruleId: v.rule, level: v.severity });
      expect(result.message.text).toContain(v.message);
      expect(result.message.text).toContain(`Fix: ${v.hint}`);
      const location = result.locations![0]!.physicalLocation!;
      expect(location.artifactLocation).toEqual({ uri: v.file, uriBaseId: '%SRCROOT%' });
      expect(location.region!.startLine).toBeGreaterThanOrEqual(1);
    }
    expect(run.results!.map((r) => r.ruleId)).toEqual(expect.arrayContaining(['locking/rename', 'compat/json-column', 'destructive/drop-column', 'risk/understated']));
  });

  it('offpeak lint --format sarif prints it and exits 1 on errors', async () => {
    const { code, stdout } = await cli(['lint', '--format', 'sarif', ...files]);
    expect(code).toBe(1);
    const log = JSON.parse(stdout) as { version: string; runs: Array<{ results: Array<{ ruleId: string }> }> };
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0]!.results.length).toBeGreaterThanOrEqual(4);
  });
});

describe('GitHub annotations', () => {
  it('one workflow command per violation, escaped as the runner expects', () => {
    // Prepare: a message with %, a newline and a path with , and :
    const report: LintReport = {
      files: ['db/a,b:c.sql'],
      violations: [{ rule: 'locking/rename', severity: 'error', message: '100% of\nclients', hint: 'add: a view, then', file: 'db/a,b:c.sql', line: 7 }],
      errors: 1,
      warnings: 0,
    };
    // Act
    const text = toGithubAnnotations(report);
    // Assess
    expect(text.split('\n')[0]).toBe('::error file=db/a%2Cb%3Ac.sql,line=7,title=offpeak lint locking/rename::100%25 of%0Aclients%0Afix: add: a view, then');
    expect(text).toContain('1 error(s), 0 warning(s) in 1 file(s)');
  });

  it('offpeak lint --format github annotates errors and warnings', async () => {
    const { code, stdout } = await cli(['lint', '--format', 'github', ...files]);
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('::error file=test/fixtures/lint/bad/sql/rename-column.sql,line=4,title=offpeak lint locking/rename::'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('::warning file=test/fixtures/lint/bad/sql/json-column.sql,line=4,title=offpeak lint compat/json-column::'))).toHaveLength(1);
  });

  it('refuses an unknown format with exit 2; --json still means --format json', async () => {
    const unknown = await cli(['lint', '--format', 'xml']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('use one of text, json, sarif, github');
    const json = await cli(['lint', '--json', `${bad}/sql/rename-column.sql`]);
    expect((JSON.parse(json.stdout) as { errors: number }).errors).toBe(1);
  });
});
