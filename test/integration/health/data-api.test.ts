import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { buildIndexHealthReportWithStats } from '../../../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../../../lambdas/core/health/snapshot.ts';

const DAY = 86_400_000;
/** The server refuses responses over this, as the real service does at 1 MiB. */
const MAX_RESPONSE_BYTES = 64 * 1024;

let api: TestDataApi;
let dataApi: SqlClient;

beforeAll(async () => {
  api = await startTestDataApi({ maxResponseBytes: MAX_RESPONSE_BYTES });
  dataApi = api.adapter();
  // 60 tables × (PK + 4 idx_ indexes, one duplicated, one FK without index): enough rows to need several pages.
  await api.db.client.query(sql`CREATE TABLE parent (id int PRIMARY KEY)`);
  await api.db.client.query(sql`DO $$ BEGIN
    FOR t IN 1..60 LOOP
      EXECUTE format('CREATE TABLE tbl_%s (id int PRIMARY KEY, parent_id int REFERENCES parent, a int, b int, "Ünïcode col" text)', t);
      EXECUTE format('CREATE INDEX idx_tbl_%s_a ON tbl_%s (a)', t, t);
      EXECUTE format('CREATE INDEX idx_tbl_%s_a_b ON tbl_%s (a, b)', t, t);
      EXECUTE format('CREATE INDEX idx_tbl_%s_b ON tbl_%s (b)', t, t);
      EXECUTE format('CREATE INDEX "idx_tbl_%s_ünï" ON tbl_%s ("Ünïcode col")', t, t);
      EXECUTE format('CREATE INDEX idx_tbl_%s_b_dup ON tbl_%s (b)', t, t);
    END LOOP;
  END $$`);
  await takeUsageSnapshot({ client: api.db.client, now: new Date(Date.now() - 20 * DAY) });
  // Every index but the ünï one served lookups in the window: (a) and (b)'s duplicate go to (a, b) and (b).
  await api.db.client.query(sql`UPDATE offpeak.index_usage_snapshots SET idx_scan = idx_scan - 1 WHERE index_name ~ '_(a|a_b|b|b_dup)$'`);
});

afterAll(async () => {
  await dataApi?.close();
  await api?.dispose();
});

describe('index health report through the Data API', () => {
  it('matches the direct report, in a few round trips, with every response under the limit', async () => {
    // Prepare: pages sized for the server's (shrunk) response limit
    const now = new Date();
    const options = { pageBytes: 48 * 1024 };

    // Act
    const direct = await buildIndexHealthReportWithStats({ client: api.db.client, options, now });
    const viaDataApi = await buildIndexHealthReportWithStats({ client: dataApi, options, now });

    // Assess: same report; the server would have failed any call over its limit
    expect(viaDataApi.report).toEqual(direct.report);
    expect(viaDataApi.roundTrips).toBe(direct.roundTrips);
    expect(viaDataApi.roundTrips).toBeGreaterThan(3);
    const kinds = new Set(viaDataApi.report.findings.map((f) => f.kind));
    expect([...kinds].sort()).toEqual(['duplicate', 'fk_without_index', 'overlapping', 'stale_stats', 'unused']);
    expect(viaDataApi.report.findings.find((f) => f.index === 'idx_tbl_7_ünï')?.suggestion?.drop)
      .toBe('DROP INDEX CONCURRENTLY IF EXISTS public."idx_tbl_7_ünï"');
  });
});
