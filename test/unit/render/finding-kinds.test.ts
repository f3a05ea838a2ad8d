import { describe, expect, it } from 'vitest';
import { FINDING_KINDS, SEVERITIES, type IndexHealthReport } from '../../../lambdas/core/health/report.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { renderSlackBlocks } from '../../../lambdas/core/render/slack-blocks.ts';
import { renderSubject } from '../../../lambdas/core/render/subject.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

/**
 * The finding kinds and severities are one list (health/report.ts) that the type, the JSON
 * schema and the renderers derive from. This is the path slack-notify takes at run time:
 * report JSON → parseReportJson → renderSlackBlocks, for every kind × severity the list has.
 */
describe('finding kinds and severities: one list', () => {
  const base = replicate(producerReport(), { findings: 1 });
  const template = base.findings[0]!;

  it.each(FINDING_KINDS.flatMap((kind) => SEVERITIES.map((severity) => [kind, severity] as const)))(
    '%s/%s survives the SNS lambda body and renders in Slack',
    (kind, severity) => {
      // Prepare
      const report: IndexHealthReport = { ...base, findings: [{ ...template, kind, severity }] };
      // Act
      const rebuilt = parseReportJson(renderJson(report));
      const slack = JSON.stringify(renderSlackBlocks(rebuilt));
      // Assess
      expect(rebuilt.findings[0]).toMatchObject({ kind, severity });
      expect(renderSubject(rebuilt)).toContain(`(1 ${kind})`);
      expect(slack).toContain(template.index!);
    },
  );

  it('refuses a kind outside the list with an error naming it', () => {
    const json = JSON.parse(renderJson(base)) as { findings: Array<{ kind: string }> };
    json.findings[0]!.kind = 'made_up_kind';
    expect(() => parseReportJson(JSON.stringify(json))).toThrow(/expected one of "unused"[^]*at findings\[0\]\.kind/);
  });
});
