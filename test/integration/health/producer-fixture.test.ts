import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexHealthReport } from '../../../lambdas/core/health/report.ts';
import { renderJson } from '../../../lambdas/core/render/report-json.ts';
import { PRODUCER_REPORT_FILE, produceReport } from '../../fixtures/report/producer-report.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { producerReport } from '../../support/report-fixtures.ts';

let db: TestDatabase;
let fresh: IndexHealthReport;

beforeAll(async () => {
  db = await createTestDatabase();
  fresh = await produceReport(db.client);
});

afterAll(async () => {
  await db?.dispose();
});

describe('the renderer tests\' report fixture', () => {
  it('is what the checks make of the defect schema today (else: npx tsx test/fixtures/report/write-producer-report.ts)', () => {
    // The database name is the only thing that differs between PGlite and a scratch PostgreSQL database.
    const committed = JSON.parse(readFileSync(PRODUCER_REPORT_FILE, 'utf8')) as { database: string };
    const regenerated = JSON.parse(renderJson({ ...fresh, database: committed.database })) as unknown;
    expect(regenerated, 'test/fixtures/report/producer-report.json is stale: run npx tsx test/fixtures/report/write-producer-report.ts').toEqual(committed);
  });

  it('has one finding of each kind the schema shows (all but plan_regression), both monitoring views and advice, and reads back as the report', () => {
    const report = producerReport();
    expect(report.findings.map((f) => f.kind).sort()).toEqual(
      ['bloated', 'duplicate', 'fk_without_index', 'invalid', 'overlapping', 'oversized', 'stale_stats', 'unused'],
    );
    expect(report.findings.filter((f) => f.suggestion !== null).length).toBeGreaterThanOrEqual(4);
    expect(report.usage.length).toBeGreaterThan(5);
    expect(report.unusedBySize.length).toBeGreaterThan(0);
    expect({ ...report, database: fresh.database }).toEqual(fresh);
  });
});
