import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { LintReport } from './lint.ts';
import { RULES } from './rules.ts';

/**
 * A lint report as SARIF 2.1.0, the format GitHub code scanning uploads
 * (github/codeql-action/upload-sarif): every rule as a reporting descriptor, every violation as a
 * result at its file and line, paths relative to the checkout (%SRCROOT%).
 */
export function toSarif(report: LintReport, version: string): Log {
  const index = new Map(RULES.map((r, i) => [r.id, i]));
  const rules: ReportingDescriptor[] = RULES.map((r) => ({
    id: r.id,
    shortDescription: { text: r.doc },
    help: { text: `${r.doc} Bad and good examples: docs/lint-rules.md#${anchor(r.id)}.`, markdown: `${r.doc}\n\nBad and good examples: [docs/lint-rules.md](docs/lint-rules.md#${anchor(r.id)}).` },
    defaultConfiguration: { level: r.severity },
    properties: { tags: [r.id.split('/')[0]!] },
  }));
  const results: Result[] = report.violations.map((v) => ({
    ruleId: v.rule,
    ruleIndex: index.get(v.rule) ?? -1,
    level: v.severity,
    message: { text: `${v.message}${v.hint ? `\nFix: ${v.hint}` : ''}` },
    locations: [
      {
        physicalLocation: { artifactLocation: { uri: v.file.split('\\').join('/'), uriBaseId: '%SRCROOT%' }, region: { startLine: v.line ?? 1 } },
        ...(v.revision ? { message: { text: `revision ${v.revision}${v.direction ? `, ${v.direction} step ${v.step}` : ''}` } } : {}),
      },
    ],
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'offpeak-lint', version, rules } }, results }],
  };
}

/** The heading anchor GitHub gives a rule's section in docs/lint-rules.md. */
export function anchor(id: string): string {
  return id.replace(/[^a-z0-9 -]/g, '');
}
