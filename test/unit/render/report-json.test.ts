import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { jsonStringCost } from '../../../lambdas/core/render/text-budget.ts';
import { makeReport } from '../../support/report-fixtures.ts';

describe('renderJson', () => {
  it('has the fields the issue names, with suggestion null or {drop, restore}', () => {
    // Prepare
    const report = makeReport(8);
    // Act
    const json = JSON.parse(renderJson(report)) as Record<string, unknown> & { findings: Array<Record<string, unknown>> };
    // Assess
    expect(json).toMatchObject({
      generatedAt: '2025-06-01T03:00:00.000Z',
      database: 'appdb',
      statsResetAt: '2025-04-21T09:30:00.000Z',
      writerOnly: true,
      historyDays: 14,
    });
    expect(json).not.toHaveProperty('truncated');
    expect(json.findings).toHaveLength(8);
    expect(json.findings[0]).toEqual({
      kind: 'unused',
      severity: 'warning',
      schema: 'public',
      table: 'orders',
      index: 'idx_orders_created_at_0',
      sizeBytes: 8_192,
      evidence: expect.stringContaining('0 scans') as unknown,
      suggestion: {
        drop: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_orders_created_at_0"',
        restore: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_created_at_0 ON public.orders USING btree (created_at)',
      },
    });
    expect(json.findings[6]).toMatchObject({ kind: 'fk_without_index', index: null, sizeBytes: null, suggestion: null });
  });

  it('round-trips through parseReportJson to the same report', () => {
    const report = makeReport(40, { database: 'データ "quoted" \\ db', tableSuffix: '_🚀' });
    expect(parseReportJson(renderJson(report))).toEqual(report);
    const neverReset = makeReport(0, { statsResetAt: null, usageRows: 0 });
    expect(parseReportJson(renderJson(neverReset))).toEqual(neverReset);
  });

  it('cuts findings to a byte budget and says what it cut, by severity and kind', () => {
    // Prepare
    const report = makeReport(5_000);
    // Act
    const text = renderJson(report, { maxBytes: 20_000, cost: jsonStringCost });
    // Assess
    expect(Buffer.byteLength(JSON.stringify(text)) - 2).toBeLessThanOrEqual(20_000);
    const json = JSON.parse(text) as { findings: unknown[]; usage: unknown[]; truncated: { omitted: number; omittedBySeverity: Record<string, number>; omittedByKind: Record<string, number>; usageOmitted: number } };
    expect(json.findings.length).toBeGreaterThan(0);
    expect(json.findings.length + json.truncated.omitted).toBe(5_000);
    expect(Object.values(json.truncated.omittedBySeverity).reduce((a, b) => a + b, 0)).toBe(json.truncated.omitted);
    expect(Object.values(json.truncated.omittedByKind).reduce((a, b) => a + b, 0)).toBe(json.truncated.omitted);
    expect(json.usage.length + json.truncated.usageOmitted).toBe(200);
  });

  it('keeps counting what was cut after a rebuild and a second rendering', () => {
    const rebuilt = parseReportJson(renderJson(makeReport(5_000), { maxBytes: 20_000 }));
    const again = JSON.parse(renderJson(rebuilt)) as { findings: unknown[]; truncated: { omitted: number } };
    expect(again.findings.length + again.truncated.omitted).toBe(5_000);
  });

  it('refuses a budget that cannot hold the header', () => {
    expect(() => renderJson(makeReport(3), { maxBytes: 50 })).toThrow(ValidationError);
  });
});

describe('parseReportJson', () => {
  it('names what is wrong with bad input', () => {
    expect(() => parseReportJson('{not json')).toThrow(/report JSON is not valid JSON/);
    const bad = JSON.parse(renderJson(makeReport(2))) as { writerOnly: unknown; findings: Array<Record<string, unknown>> };
    bad.writerOnly = false;
    bad.findings[1]!['kind'] = 'slow';
    let error: unknown;
    try {
      parseReportJson(JSON.stringify(bad));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toContain('does not have the IndexHealthReport shape');
    expect((error as Error).message).toContain('writerOnly');
    expect((error as Error).message).toContain('findings[1].kind');
    expect((error as ValidationError).cause).toBeDefined();
  });

  it('rejects a body that is not a report at all', () => {
    expect(() => parseReportJson(JSON.stringify({ version: '1.0', source: 'custom' }))).toThrow(/generatedAt/);
    expect(() => parseReportJson('null')).toThrow(ValidationError);
  });
});
