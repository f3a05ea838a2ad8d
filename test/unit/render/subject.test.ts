import { describe, expect, it } from 'vitest';
import { renderSubject } from '../../../lambdas/core/render/subject.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

const valid = (subject: string): void => {
  expect(subject.length).toBeLessThan(100);
  // eslint-disable-next-line no-control-regex
  expect(subject).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  expect(subject).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
};

describe('renderSubject', () => {
  it('counts findings by kind, most frequent first', () => {
    // Prepare: the producer's findings, the unused one copied twice: 3 unused, 1 of each other kind
    const real = producerReport();
    const unused = real.findings.find((f) => f.kind === 'unused')!;
    const report = { ...real, findings: [...real.findings, { ...unused, index: `${unused.index!}_2` }, { ...unused, index: `${unused.index!}_3` }] };
    // Act / Assess
    expect(renderSubject(report)).toBe('offpeak: 10 findings on postgres (3 unused, 1 bloated, 1 duplicate, 1 fk_without_index, …)');
    expect(renderSubject({ ...real, findings: [unused] })).toBe('offpeak: 1 finding on postgres (1 unused)');
  });

  it('has a no-findings variant', () => {
    expect(renderSubject({ ...producerReport(), findings: [], database: 'appdb' })).toBe('offpeak: no findings on appdb');
  });

  it('stays under 100 characters, on one line, for long and odd database names', () => {
    const reports = [0, 3, 50_000].map((findings) => ({ findings, report: replicate(producerReport(), { findings, usageRows: 0 }) }));
    for (const database of ['d'.repeat(300), 'app\r\ndb\u0007' + 'x'.repeat(120), '🚀'.repeat(80), 'データベース'.repeat(30), '']) {
      for (const { findings, report } of reports) {
        const subject = renderSubject({ ...report, database });
        valid(subject);
        expect(subject.startsWith(findings === 0 ? 'offpeak: no findings on ' : `offpeak: ${findings.toLocaleString('en-US')} finding`)).toBe(true);
      }
    }
  });

  it('drops kinds before shortening the database name', () => {
    const subject = renderSubject(replicate(producerReport(), { findings: 5_000, database: 'orders_production_eu', usageRows: 0 }));
    valid(subject);
    expect(subject).toMatch(/^offpeak: 5,000 findings on orders_production_eu \(625 bloated, .*, …\)$/);
  });

  it('shortens a long database name with an ellipsis', () => {
    const subject = renderSubject(replicate(producerReport(), { findings: 3, database: 'x'.repeat(200) }));
    valid(subject);
    expect(subject).toMatch(/^offpeak: 3 findings on x+… \(1 bloated, 1 invalid, 1 oversized\)$/);
  });
});
