import type { LintReport } from './lint.ts';

/**
 * A lint report as GitHub Actions workflow commands (`::error file=…,line=…,title=…::message`):
 * each violation becomes an annotation on the pull request's diff. Values are escaped as the
 * runner expects: % CR LF in the message, and also : and , in properties.
 */
export function toGithubAnnotations(report: LintReport): string {
  const lines = report.violations.map((v) => {
    const props = [`file=${property(v.file)}`, ...(v.line ? [`line=${v.line}`] : []), `title=${property(`offpeak lint ${v.rule}`)}`].join(',');
    return `::${v.severity} ${props}::${data(`${v.message}\nfix: ${v.hint}`)}`;
  });
  lines.push(`${report.errors} error(s), ${report.warnings} warning(s) in ${report.files.length} file(s)`);
  return `${lines.join('\n')}\n`;
}

const data = (text: string) => text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
const property = (text: string) => data(text).replaceAll(':', '%3A').replaceAll(',', '%2C');
