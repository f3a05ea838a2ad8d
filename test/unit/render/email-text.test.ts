import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { SNS_MAX_MESSAGE_BYTES } from '../../../lambdas/core/render/limits.ts';
import { jsonStringCost } from '../../../lambdas/core/render/text-budget.ts';
import { makeReport } from '../../support/report-fixtures.ts';

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

describe('renderEmailText', () => {
  it('has a summary, findings by severity with DROP and RESTORE, both monitoring views, and the caveat', () => {
    // Prepare
    const report = makeReport(12);
    // Act
    const text = renderEmailText(report);
    // Assess
    expect(text).toContain('Findings:       12 (2 critical, 6 warning, 4 info)');
    expect(text).toContain('By kind:        2 duplicate, 2 invalid, 2 overlapping, 2 unused, 1 bloated');
    expect(text).toContain('Generated at:   2025-06-01 03:00:00 UTC');
    expect(text).toContain('Stats reset:    2025-04-21 09:30:00 UTC (40 days before this report)');
    expect(text).toContain('Usage history:  14 days of usage snapshots');
    const critical = text.indexOf('CRITICAL (2)');
    const warning = text.indexOf('WARNING (6)');
    const info = text.indexOf('INFO (4)');
    expect(critical).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(critical);
    expect(info).toBeGreaterThan(warning);
    expect(text).toContain('Drop:    DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_order_items_created_at_1";');
    expect(text).toContain('Restore: CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_order_items_created_at_1 ON public.order_items USING btree (created_at);');
    expect(text).toMatch(/INDEX USAGE: idx_ indexes by idx_tup_read\n\n {2}index +table +idx_scan +idx_tup_read +idx_tup_fetch +size\n/);
    expect(text).toMatch(/ {2}idx_orders_created_at_0 +public\.orders +0 +90,000,000 +80,000,000 +8192 bytes\n/);
    expect(text).toMatch(/UNUSED INDEXES: idx_ indexes with idx_scan = 0, largest first\n\n {2}index +table +size\n/);
    expect(text).toMatch(/idx_operator_messages_operator_id_10 +public\.operator_messages +369 MB/);
    expect(text).toContain('Usage counters come from the writer instance only');
    expect(text).toContain('reader instances are invisible');
    expect(text).toContain('restart at every stats reset');
    expect(text).not.toContain('more findings not shown');
  });

  it('lists unused indexes largest first, as the seed view does', () => {
    const text = renderEmailText(makeReport(12));
    const unused = text.slice(text.indexOf('UNUSED INDEXES'));
    expect(unused.indexOf('369 MB')).toBeLessThan(unused.indexOf('185 MB'));
    expect(unused.indexOf('185 MB')).toBeLessThan(unused.indexOf('8192 bytes'));
  });

  it('cuts 50,000 findings to under 256 KB and ends by saying how many were cut', () => {
    // Prepare
    const report = makeReport(50_000);
    // Act
    const text = renderEmailText(report);
    // Assess
    expect(bytes(text)).toBeLessThan(SNS_MAX_MESSAGE_BYTES);
    expect(bytes(text)).toBeGreaterThan(200_000); // the budget is used, not wasted
    const last = text.trimEnd().split('\n').at(-1)!;
    const match = /^… and ([\d,]+) more findings not shown \(([\d,]+) of 50,000 shown;/.exec(last);
    expect(match).not.toBeNull();
    const omitted = Number(match![1]!.replace(/,/g, ''));
    const shown = Number(match![2]!.replace(/,/g, ''));
    expect(omitted + shown).toBe(50_000);
    expect(text.match(/^ {2}\d+\. \[/gm)).toHaveLength(shown);
    expect(text).toContain('Findings:       50,000');
    expect(text).toContain('… and 175 more indexes'); // the usage view was capped at 25 of 200 rows
  });

  it('fits any budget it accepts, in UTF-8 bytes or escaped JSON bytes, with Unicode names', () => {
    // Prepare: 4-byte and 3-byte characters in names, quotes in statements
    const report = makeReport(2_000, { database: 'データベース_🚀', tableSuffix: '_заказы_🚀' });
    for (const maxBytes of [2_048, 2_500, 4_000, 30_000, 100_000]) {
      // Act
      const plain = renderEmailText(report, { maxBytes });
      const escaped = renderEmailText(report, { maxBytes, cost: jsonStringCost });
      // Assess
      expect(bytes(plain)).toBeLessThanOrEqual(maxBytes);
      expect(bytes(JSON.stringify(escaped)) - 2).toBeLessThanOrEqual(maxBytes);
      expect(plain.trimEnd()).toMatch(/… and [\d,]+ more findings not shown \([\d,]+ of 2,000 shown; run `offpeak report --format json` for all\)\.$/);
      expect(plain).not.toContain('\uFFFD');
    }
  });

  it('renders an empty report sensibly', () => {
    const text = renderEmailText(makeReport(0, { usageRows: 0, statsResetAt: null, historyDays: 0 }));
    expect(text).toContain('Findings:       0\n');
    expect(text).toContain('By kind:        none');
    expect(text).toContain('Stats reset:    never reset');
    expect(text).toContain('Usage history:  no usage snapshots yet');
    expect(text).toContain('No findings.');
    expect(text).toContain('(none)');
    expect(text).toContain('writer instance only');
    expect(text).not.toContain('more findings');
  });

  it('keeps names with line breaks on one line', () => {
    const report = makeReport(1, { database: 'app\ndb' });
    report.findings[0]!.evidence = 'line one\nline two';
    const text = renderEmailText(report);
    expect(text).toContain('offpeak index health report: app db');
    expect(text).toContain('line one line two');
  });

  it('at small budgets keeps the summary and the whole caveat, and shortens the views first', () => {
    const text = renderEmailText(makeReport(2_000), { maxBytes: 2_048 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2_048);
    expect(text).toContain('Findings:       2,000');
    expect(text).toMatch(/INDEX USAGE: idx_ indexes by idx_tup_read\n\n(.*\n)*? {2}(… and 197 more indexes|200 indexes, not listed to keep this email within its size limit)\n/);
    expect(text).toContain('"0 since the reset", not "never used".');
    expect(text.trimEnd()).toMatch(/… and [\d,]+ more findings not shown/);
  });

  it('cuts nothing without a limit, for the CLI', () => {
    const text = renderEmailText(makeReport(3_000, { usageRows: 300 }), { maxBytes: Infinity, tableRows: Infinity });
    expect(Buffer.byteLength(text)).toBeGreaterThan(262_144);
    expect(text.match(/^ {2}\d+\. \[/gm)).toHaveLength(3_000);
    expect(text).not.toContain('more findings not shown');
    expect(text).not.toContain('more indexes');
  });

  it('refuses a budget too small to say anything', () => {
    expect(() => renderEmailText(makeReport(3), { maxBytes: 100 })).toThrow(ValidationError);
    expect(() => renderEmailText(makeReport(3), { maxBytes: 100 })).toThrow(/at least 2048 bytes, got 100/);
  });
});
