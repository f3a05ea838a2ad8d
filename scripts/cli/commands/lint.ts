import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { ExitCode } from '../exit-codes.ts';
import { ConfigError } from '../../../lambdas/core/errors.ts';
import { resolveLintConfig, type LintConfig } from '../../../lambdas/core/lint/config.ts';
import { toGithubAnnotations } from '../../../lambdas/core/lint/github-annotations.ts';
import { lintPaths, type LintReport } from '../../../lambdas/core/lint/lint.ts';
import { RULES } from '../../../lambdas/core/lint/rules.ts';
import { toSarif } from '../../../lambdas/core/lint/sarif.ts';
import { oneLine } from '../../../lambdas/core/lint/source-text.ts';

const FORMATS = ['text', 'json', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

const USAGE = `usage: offpeak lint [PATH…] [--migrations DIR] [--config FILE] [--format text|json|sarif|github] [--rules]

Lints migration modules (every statement, up and down) and .sql files against the
migration policy. With no PATH, lints the migrations directory (default migrations/).
Config: offpeak.lint.json in the current directory, or --config FILE.
Formats: text (default); json (the report); sarif (SARIF 2.1.0, for GitHub code
scanning); github (workflow-command annotations for GitHub Actions). --json = --format json.
Exit codes: 0 clean (warnings allowed), 1 errors found, 2 bad usage.
`;

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check migrations and .sql files against the migration policy',
  async run({ argv, stdout, stderr, cwd }) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        migrations: { type: 'string' },
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
        format: { type: 'string' },
        rules: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      stdout.write(USAGE);
      return ExitCode.ok;
    }
    const format = (values.format ?? (values.json ? 'json' : 'text')) as Format;
    if (!FORMATS.includes(format)) throw new ConfigError(`--format ${values.format}: use one of ${FORMATS.join(', ')}`);
    const config = await loadConfig(values.config, cwd);
    if (values.rules) {
      for (const r of RULES) stdout.write(`${r.id.padEnd(40)} ${(config.severities.get(r.id) ?? 'off').padEnd(8)} ${r.doc}\n`);
      return ExitCode.ok;
    }
    const paths = [...positionals];
    if (values.migrations !== undefined || paths.length === 0) paths.unshift(values.migrations ?? 'migrations');
    const report = await lintPaths({ paths: paths.map((p) => relativeTo(cwd, resolve(cwd, p))), config });
    if (format === 'json') stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else if (format === 'sarif') stdout.write(`${JSON.stringify(toSarif(report, await version()), null, 2)}\n`);
    else if (format === 'github') stdout.write(toGithubAnnotations(report));
    else writeText(report, stdout, stderr);
    return report.errors > 0 ? ExitCode.failed : ExitCode.ok;
  },
};

async function loadConfig(path: string | undefined, cwd: string): Promise<LintConfig> {
  const file = path ? resolve(cwd, path) : resolve(cwd, 'offpeak.lint.json');
  if (!path && !existsSync(file)) return resolveLintConfig({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read lint config ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`lint config ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return resolveLintConfig(json, file);
}

/** offpeak's own version, for the SARIF tool driver. */
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function relativeTo(cwd: string, path: string): string {
  return path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

function writeText(report: LintReport, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void {
  for (const v of report.violations) {
    const where = [v.revision && `revision ${v.revision}`, v.direction && `${v.direction} step ${v.step}`].filter(Boolean).join(', ');
    stdout.write(`${v.file}${v.line ? `:${v.line}` : ''}  ${v.severity}  ${v.rule}  ${v.message}\n`);
    if (where || v.statement) stdout.write(`    ${where}${where && v.statement ? ': ' : ''}${v.statement ? oneLine(v.statement) : ''}\n`);
    if (v.hint) stdout.write(`    fix: ${v.hint}\n`);
  }
  const summary = `${report.errors} error(s), ${report.warnings} warning(s) in ${report.files.length} file(s)\n`;
  (report.errors > 0 ? stderr : stdout).write(summary);
}
