import { describe, expect, it } from 'vitest';
import { renderSubject } from '../../../lambdas/core/render/subject.ts';
import { makeReport } from '../../support/report-fixtures.ts';

const valid = (subject: string): void => {
  expect(subject.length).toBeLessThan(100);
  // eslint-disable-next-line no-control-regex
  expect(subject).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  expect(subject).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
};

describe('renderSubject', () => {
  it('counts findings by kind, most frequent first', () => {
    // Prepare: 2 unused, 1 invalid
    const report = makeReport(3);
    report.findings[2] = { ...report.findings[0]!, index: 'idx_other' };
    // Act / Assess
    expect(renderSubject(report)).toBe('offpeak: 3 findings on appdb (2 unused, 1 invalid)');
    expect(renderSubject(makeReport(1))).toBe('offpeak: 1 finding on appdb (1 unused)');
  });

  it('has a no-findings variant', () => {
    expect(renderSubject(makeReport(0))).toBe('offpeak: no findings on appdb');
  });

  it('stays under 100 characters, on one line, for long and odd database names', () => {
    const reports = [0, 3, 50_000].map((findings) => ({ findings, report: makeReport(findings, { usageRows: 0 }) }));
    for (const database of ['d'.repeat(300), 'app\r\ndb\u0007' + 'x'.repeat(120), '🚀'.repeat(80), 'データベース'.repeat(30), '']) {
      for (const { findings, report } of reports) {
        const subject = renderSubject({ ...report, database });
        valid(subject);
        expect(subject.startsWith(findings === 0 ? 'offpeak: no findings on ' : `offpeak: ${findings.toLocaleString('en-US')} finding`)).toBe(true);
      }
    }
  });

  it('drops kinds before shortening the database name', () => {
    const subject = renderSubject(makeReport(5_000, { database: 'orders_production_eu', usageRows: 0 }));
    valid(subject);
    expect(subject).toMatch(/^offpeak: 5,000 findings on orders_production_eu \(625 bloated, .*, …\)$/);
  });

  it('shortens a long database name with an ellipsis', () => {
    const subject = renderSubject(makeReport(3, { database: 'x'.repeat(200) }));
    valid(subject);
    expect(subject).toMatch(/^offpeak: 3 findings on x+… \(1 duplicate, 1 invalid, 1 unused\)$/);
  });
});
