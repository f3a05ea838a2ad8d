import { describe, expect, it } from 'vitest';
import { adviceSection } from '../../../lambdas/core/render/advice.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

describe('the advice section', () => {
  // the producer's findings copied three times: 12 advised drops on distinct names
  const report = replicate(producerReport(), { findings: 24 });
  const advised = report.findings.filter((f) => f.suggestion !== null);

  it('lists every DROP ordered by schema, table and index, the restores in reverse, one line each', () => {
    const section = adviceSection(report.findings);
    expect(section.drop).toHaveLength(advised.length);
    expect(new Set(section.drop)).toEqual(new Set(advised.map((f) => f.suggestion!.drop)));
    const order = [...advised].sort((a, b) => a.table.localeCompare(b.table, 'en', { numeric: true })
      || a.index!.localeCompare(b.index!, 'en', { numeric: true })).map((f) => f.suggestion!.drop);
    expect(section.drop).toEqual(order);
    expect(section.restore).toEqual([...advised].sort((a, b) => order.indexOf(a.suggestion!.drop) - order.indexOf(b.suggestion!.drop))
      .map((f) => f.suggestion!.restore).reverse());
    expect(section.afterwards).toHaveLength(advised.length);
  });

  it('is in the uncut JSON, which still parses, and in the email', () => {
    const json = JSON.parse(renderJson(report)) as { advice: { drop: string[] } };
    expect(json.advice.drop).toEqual(adviceSection(report.findings).drop);
    expect(parseReportJson(renderJson(report)).findings).toEqual(report.findings);
    const email = renderEmailText(report);
    expect(email).toContain(`ADVICE: ${advised.length} indexes to drop`);
    for (const f of advised) expect(email).toContain(`    ${f.suggestion!.drop};`);
  });

  it('points to the JSON when the script would take more than half the email budget', () => {
    const big = replicate(producerReport(), { findings: 2_000 });
    const email = renderEmailText(big, { maxBytes: 60_000 });
    expect(email).toContain('The script is too long for this email');
    expect(Buffer.byteLength(email)).toBeLessThanOrEqual(60_000);
  });
});
