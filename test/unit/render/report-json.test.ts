import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { jsonStringCost } from '../../../lambdas/core/render/text-budget.ts';
import { producerReport, replicate } from '../../support/report-fixtures.ts';

describe('renderJson', () => {
  it('has the fields the issue names, with suggestion null or {drop, restore}', () => {
    // Prepare
    const report = producerReport();
    // Act
    const json = JSON.parse(renderJson(report)) as Record<string, unknown> & { findings: Array<Record<string, unknown>> };
    // Assess
    expect(json).toMatchObject({
      generatedAt: '2026-06-01T03:00:00.000Z',
      database: 'postgres',
      statsResetAt: null,
      writerOnly: true,
      historyDays: 20,
      historyStartedAt: '2026-05-12T03:00:00.000Z',
    });
    expect(json).not.toHaveProperty('truncated');
    expect(json.findings).toHaveLength(8);
    expect(json.findings.find((f) => f['kind'] === 'unused')).toEqual({
      kind: 'unused',
      severity: 'warning',
      schema: 'shop',
      table: 'orders',
      index: 'idx_orders_qty',
      sizeBytes: 16_384,
      evidence: expect.stringContaining('0 scans in 20 days') as unknown,
      suggestion: {
        drop: 'DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_qty',
        restore: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_qty ON shop.orders USING btree (qty)',
        afterwards: 'no scans in the 14-day window: no lookup to move',
      },
    });
    expect(json.findings.find((f) => f['kind'] === 'fk_without_index')).toMatchObject({ table: 'orders', index: null, sizeBytes: null, suggestion: null });
    // every finding, as the producer made it
    expect(json.findings.map((f) => `${String(f['kind'])} ${String(f['index'] ?? f['table'])}`)).toEqual(report.findings.map((f) => `${f.kind} ${f.index ?? f.table}`));
    expect(json['advice']).toMatchObject({ drop: expect.arrayContaining(['DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_bad']) as unknown });
  });

  it('round-trips through parseReportJson to the same report', () => {
    expect(parseReportJson(renderJson(producerReport()))).toEqual(producerReport());
    const report = replicate(producerReport(), { findings: 40, database: 'データ "quoted" \\ db', tableSuffix: '_🚀' });
    expect(parseReportJson(renderJson(report))).toEqual(report);
    // the producer reports pg_stat_database.stats_reset; the defect schema's database was never reset
    const reset = { ...producerReport(), statsResetAt: new Date('2026-04-21T09:30:00Z') };
    expect(parseReportJson(renderJson(reset))).toEqual(reset);
    const empty = replicate(producerReport(), { findings: 0, usageRows: 0 });
    expect(parseReportJson(renderJson(empty))).toEqual(empty);
  });

  it('cuts findings to a byte budget and says what it cut, by severity and kind', () => {
    // Prepare
    const report = replicate(producerReport(), { findings: 5_000, usageRows: 200 });
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
    const rebuilt = parseReportJson(renderJson(replicate(producerReport(), { findings: 5_000 }), { maxBytes: 20_000 }));
    const again = JSON.parse(renderJson(rebuilt)) as { findings: unknown[]; truncated: { omitted: number } };
    expect(again.findings.length + again.truncated.omitted).toBe(5_000);
  });

  it('refuses a budget that cannot hold the header', () => {
    expect(() => renderJson(producerReport(), { maxBytes: 50 })).toThrow(ValidationError);
  });
});

describe('parseReportJson', () => {
  it('names what is wrong with bad input', () => {
    expect(() => parseReportJson('{not json')).toThrow(/report JSON is not valid JSON/);
    const bad = JSON.parse(renderJson(producerReport())) as { writerOnly: unknown; findings: Array<Record<string, unknown>> };
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
