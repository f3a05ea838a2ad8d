import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { SNS_MAX_MESSAGE_BYTES } from '../../../lambdas/core/render/limits.ts';
import { jsonStringCost } from '../../../lambdas/core/render/text-budget.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

describe('renderEmailText', () => {
  it('has a summary, every finding by severity with DROP and RESTORE, both monitoring views, and the caveat', () => {
    // Prepare: the producer's report of the defect schema (one finding of each kind)
    const report = producerReport();
    // Act
    const text = renderEmailText(report);
    // Assess
    expect(text).toContain('Findings:       8 (1 critical, 6 warning, 1 info)');
    expect(text).toContain('By kind:        1 bloated, 1 duplicate, 1 fk_without_index, 1 invalid, 1 overlapping, 1 oversized, 1 stale_stats, 1 unused');
    expect(text).toContain('Generated at:   2026-06-01 03:00:00 UTC');
    expect(text).toContain('Stats reset:    never reset');
    expect(text).toContain('Usage history:  20 days of usage snapshots');
    const critical = text.indexOf('CRITICAL (1)');
    const warning = text.indexOf('WARNING (6)');
    const info = text.indexOf('INFO (1)');
    expect(critical).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(critical);
    expect(info).toBeGreaterThan(warning);
    // every finding, under its severity, with its evidence and (when advised) both statements
    const sections = { critical: text.slice(critical, warning), warning: text.slice(warning, info), info: text.slice(info, text.indexOf('INDEX USAGE')) };
    for (const f of report.findings) {
      const section = sections[f.severity];
      expect(section, `${f.kind} ${f.index ?? f.table}`).toMatch(new RegExp(`\\d+\\. \\[${f.kind}\\] ${f.schema}\\.${f.table}${f.index === null ? '\\n' : ` / ${f.index} \\(`}`));
      expect(section).toContain(f.evidence);
      if (f.suggestion !== null) {
        expect(section).toContain(`Drop:    ${f.suggestion.drop};`);
        expect(section).toContain(`Restore: ${f.suggestion.restore};`);
      }
    }
    expect(sections.critical).toContain('[invalid] shop.orders / idx_orders_bad (0 bytes)');
    expect(sections.warning).toContain('[oversized] shop.docs / idx_docs_body3 (848 kB)');
    expect(text).toContain('Drop:    DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_qty;');
    expect(text).toContain('Restore: CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_qty ON shop.orders USING btree (qty);');
    expect(text).toMatch(/INDEX USAGE: idx_ indexes by idx_tup_read\n\n {2}index +table +idx_scan +idx_tup_read +idx_tup_fetch +size\n/);
    expect(text).toMatch(/ {2}idx_docs_body3 +shop\.docs +0 +0 +0 +848 kB\n/);
    expect(text).toMatch(/UNUSED INDEXES: idx_ indexes with idx_scan = 0, largest first\n\n {2}index +table +size\n/);
    for (const row of report.usage) expect(text).toMatch(new RegExp(` {2}${row.index} +${row.schema}\\.${row.table} +${row.idxScan} `));
    expect(text).toContain('Usage counters come from the writer instance only');
    expect(text).toContain('reader instances are invisible');
    expect(text).toContain('restart at every stats reset');
    expect(text).not.toContain('more findings not shown');
  });

  it('says when the stats were last reset, and how long before the report', () => {
    // The producer reports pg_stat_database.stats_reset; the defect schema's database was never reset.
    const text = renderEmailText({ ...producerReport(), statsResetAt: new Date('2026-04-21T09:30:00Z') });
    expect(text).toContain('Stats reset:    2026-04-21 09:30:00 UTC (40 days before this report)');
  });

  it('lists unused indexes largest first, as the seed view does', () => {
    const text = renderEmailText(producerReport());
    const unused = text.slice(text.indexOf('UNUSED INDEXES'));
    expect(unused.indexOf('idx_docs_body3')).toBeLessThan(unused.indexOf('idx_events_n'));
    expect(unused.indexOf('848 kB')).toBeLessThan(unused.indexOf('672 kB'));
    expect(unused.indexOf('672 kB')).toBeLessThan(unused.indexOf('16 kB'));
    expect(unused.indexOf('16 kB')).toBeLessThan(unused.indexOf('0 bytes'));
  });

  it('cuts 50,000 findings to under 256 KB and ends by saying how many were cut', () => {
    // Prepare
    // the producer's 8 findings copied to 50,000 (its usage rows to 200): more than a schema that builds in seconds has
    const report = replicate(producerReport(), { findings: 50_000, usageRows: 200 });
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
    // the cut keeps the views and the caveat: the findings were cut, not the end of the email
    expect(text).toContain('UNUSED INDEXES: idx_ indexes with idx_scan = 0, largest first');
    expect(text).toContain('"0 since the reset", not "never used".');
  });

  it('fits any budget it accepts, in UTF-8 bytes or escaped JSON bytes, with Unicode names', () => {
    // Prepare: 4-byte and 3-byte characters in names, quotes in statements
    const report = replicate(producerReport(), { findings: 2_000, database: 'データベース_🚀', tableSuffix: '_заказы_🚀' });
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
    const text = renderEmailText({ ...replicate(producerReport(), { findings: 0, usageRows: 0 }), historyDays: 0, historyStartedAt: null }) // a fresh database;
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
    const report = replicate(producerReport(), { findings: 1, database: 'app\ndb' });
    report.findings[0]!.evidence = 'line one\nline two';
    const text = renderEmailText(report);
    expect(text).toContain('offpeak index health report: app db');
    expect(text).toContain('line one line two');
  });

  it('at small budgets keeps the summary and the whole caveat, and shortens the views first', () => {
    const text = renderEmailText(replicate(producerReport(), { findings: 2_000, usageRows: 200 }), { maxBytes: 2_048 });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(2_048);
    expect(text).toContain('Findings:       2,000');
    expect(text).toMatch(/INDEX USAGE: idx_ indexes by idx_tup_read\n\n(.*\n)*? {2}(… and 197 more indexes|200 indexes, not listed to keep this email within its size limit)\n/);
    expect(text).toContain('"0 since the reset", not "never used".');
    expect(text.trimEnd()).toMatch(/… and [\d,]+ more findings not shown/);
  });

  it('cuts nothing without a limit, for the CLI', () => {
    const text = renderEmailText(replicate(producerReport(), { findings: 3_000, usageRows: 300 }), { maxBytes: Infinity, tableRows: Infinity });
    expect(Buffer.byteLength(text)).toBeGreaterThan(262_144);
    expect(text.match(/^ {2}\d+\. \[/gm)).toHaveLength(3_000);
    expect(text).not.toContain('more findings not shown');
    expect(text).not.toContain('more indexes');
  });

  it('refuses a budget too small to say anything', () => {
    expect(() => renderEmailText(producerReport(), { maxBytes: 100 })).toThrow(ValidationError);
    expect(() => renderEmailText(producerReport(), { maxBytes: 100 })).toThrow(/at least 2048 bytes, got 100/);
  });
});
