import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { createDefectSchema, DEFECT_SCHEMA_OPTIONS, flushStats } from '../../support/defect-schema.ts';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { buildIndexHealthReport, buildIndexHealthReportWithStats } from '../../../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../../../lambdas/core/health/snapshot.ts';
import { ledgerTable } from '../../../lambdas/core/health/ledger.ts';
import type { Finding } from '../../../lambdas/core/health/report.ts';
import { renderChatNotification } from '../../../lambdas/core/render/chat-notification.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { renderSlackBlocks } from '../../../lambdas/core/render/slack-blocks.ts';

const DAY = 86_400_000;
const LEDGER = 'offpeak';
const OPTIONS = DEFECT_SCHEMA_OPTIONS;

let db: TestDatabase;

async function runOn(client: TestDatabase['client'], statements: string[]): Promise<void> {
  for (const text of statements) await client.query(sql`${sql.raw(text)}`);
}

async function run(...statements: string[]): Promise<void> {
  await runOn(db.client, statements);
}

function key(f: Finding): string {
  return `${f.kind} ${f.schema}.${f.index ?? f.table}`;
}

beforeAll(async () => {
  db = await createTestDatabase();
  await createDefectSchema(db.client);
});

afterAll(async () => {
  await db?.dispose();
});

describe('index health report', () => {
  it('finds exactly one finding per defect and never advises dropping PK, unique or FK indexes', async () => {
    // Prepare: 20 days of history; every index but idx_orders_qty and the FK support got scans since.
    const now = new Date();
    await takeUsageSnapshot({ client: db.client, now: new Date(now.getTime() - 20 * DAY) });
    await run(`UPDATE offpeak.index_usage_snapshots SET idx_scan = idx_scan - 1
      WHERE schema_name = 'shop' AND index_name NOT IN ('idx_orders_qty', 'idx_orders_customer_id')`);

    // Act
    const report = await buildIndexHealthReport({ client: db.client, schema: LEDGER, options: OPTIONS, now });

    // Assess
    const shop = report.findings.filter((f) => f.schema === 'shop');
    expect(shop.map(key).sort()).toEqual([
      'bloated shop.idx_events_n',
      'duplicate shop.idx_orders_status_dup',
      'fk_without_index shop.orders',
      'invalid shop.idx_orders_bad',
      'overlapping shop.idx_orders_created_at',
      'oversized shop.idx_docs_body3',
      'stale_stats shop.audit',
      'unused shop.idx_orders_qty',
    ]);
    const byKey = new Map(shop.map((f) => [key(f), f]));
    expect(byKey.get('unused shop.idx_orders_qty')!.suggestion).toEqual({
      drop: 'DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_qty',
      restore: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_qty ON shop.orders USING btree (qty)',
      afterwards: 'no scans in the 14-day window: no lookup to move',
    });
    expect(byKey.get('duplicate shop.idx_orders_status_dup')!.suggestion?.drop).toBe('DROP INDEX CONCURRENTLY IF EXISTS shop.idx_orders_status_dup');
    expect(byKey.get('invalid shop.idx_orders_bad')!.suggestion?.restore).toMatch(/^CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_bad ON shop\.orders/);
    expect(byKey.get('fk_without_index shop.orders')!.evidence).toContain('orders_product_id_fkey (product_id)');
    for (const kind of ['oversized', 'bloated', 'fk_without_index', 'stale_stats']) {
      expect(shop.filter((f) => f.kind === kind).every((f) => f.suggestion === null)).toBe(true);
    }
    const guarded = ['customers_pkey', 'customers_email_key', 'orders_pkey', 'idx_orders_customer_id'];
    expect(shop.filter((f) => guarded.includes(f.index ?? ''))).toEqual([]);
    expect(report.writerOnly).toBe(true);
    expect(report.historyDays).toBe(20);
    expect(report.usage.every((u) => u.index.startsWith('idx_'))).toBe(true);
    expect(report.unusedBySize.map((u) => u.index)).toContain('idx_orders_qty');
  });

  it('counts a partial index WHERE <fk column> IS NOT NULL as the foreign key\'s support, and no other partial index', async () => {
    // Prepare: the seed's pattern (idx_users_referred_by … WHERE referred_by IS NOT NULL) beside a predicate that leaves rows out
    await run(
      'CREATE SCHEMA partfk',
      'CREATE TABLE partfk.parents (id int PRIMARY KEY)',
      'CREATE TABLE partfk.kids (id int PRIMARY KEY, parent_id int REFERENCES partfk.parents, other_id int REFERENCES partfk.parents)',
      'CREATE INDEX idx_kids_parent_id ON partfk.kids (parent_id) WHERE parent_id IS NOT NULL',
      'CREATE INDEX idx_kids_other_id ON partfk.kids (other_id) WHERE other_id > 0',
      'ANALYZE partfk.parents',
      'ANALYZE partfk.kids',
    );

    // Act
    const { report, pendingIndexes } = await buildIndexHealthReportWithStats({ client: db.client, options: OPTIONS });

    // Assess
    const partfk = report.findings.filter((f) => f.schema === 'partfk');
    const fk = partfk.filter((f) => f.kind === 'fk_without_index');
    expect(fk).toHaveLength(1);
    expect(fk[0]!.evidence).toContain('kids_other_id_fkey (other_id)');
    expect(fk[0]!.evidence).not.toContain('kids_parent_id_fkey');
    // the supporting partial index is protected: never reported unused, never advised to drop
    expect(partfk.filter((f) => f.index === 'idx_kids_parent_id')).toEqual([]);
    // the other one is an ordinary index, waiting for its usage verdict (no history yet)
    expect(pendingIndexes).toContain('idx_kids_other_id');
    expect(pendingIndexes).not.toContain('idx_kids_parent_id');
  });

  it('gives no unused verdict when the stats were reset inside the window', async () => {
    // Prepare: its own database, since pg_stat_reset() resets the whole database's counters and would take
    // the other tests' unused verdicts away. An index with 20 days of zero-scan history, then a stats reset.
    const own = await createTestDatabase();
    onTestFinished(() => own.dispose());
    await runOn(own.client, ['CREATE SCHEMA reset', 'CREATE TABLE reset.t (a int)', 'CREATE INDEX idx_reset_a ON reset.t (a)', 'ANALYZE reset.t']);
    const now = new Date();
    await takeUsageSnapshot({ client: own.client, now: new Date(now.getTime() - 20 * DAY) });
    await takeUsageSnapshot({ client: own.client, now: new Date(now.getTime() - 10 * DAY) });
    const before = await buildIndexHealthReport({ client: own.client, options: OPTIONS, now });
    await runOn(own.client, ['SELECT pg_stat_reset()']);
    await flushStats(own.client);

    // Act
    const after = await buildIndexHealthReportWithStats({ client: own.client, options: OPTIONS, now });

    // Assess
    const unusedBefore = before.findings.find((f) => f.kind === 'unused' && f.index === 'idx_reset_a')!;
    expect(unusedBefore.severity).toBe('warning');
    expect(unusedBefore.suggestion).not.toBeNull();
    expect(after.report.statsResetAt).toBeInstanceOf(Date);
    // no verdict after the reset: not a finding, counted as pending until a full window has passed since the reset
    expect(after.report.findings.filter((f) => f.index === 'idx_reset_a')).toEqual([]);
    expect(after.pendingIndexes).toContain('idx_reset_a');
    const firstVerdict = after.report.pending!.firstVerdictAt!.getTime();
    expect(firstVerdict).toBeGreaterThanOrEqual(after.report.statsResetAt!.getTime() + 14 * DAY - 1000);
  });

  it('renders what the checks produce on this schema with every renderer (fixtures made by the producer)', async () => {
    // Prepare: the report the producer makes of a real schema, not a hand-written one
    const report = await buildIndexHealthReport({ client: db.client, options: OPTIONS });
    expect(new Set(report.findings.map((f) => f.kind)).size).toBeGreaterThanOrEqual(4);

    // Act
    const email = renderEmailText(report);
    const slack = JSON.stringify(renderSlackBlocks(report).blocks);
    const chat = renderChatNotification(report);
    const roundTrip = parseReportJson(renderJson(report));

    // Assess: every finding shows in the email, the JSON body is the report again, nothing throws
    for (const f of report.findings) expect(email, key(f)).toContain(f.index ?? f.table);
    for (const f of report.findings.filter((x) => x.suggestion)) expect(email, key(f)).toContain(f.suggestion!.drop);
    expect(roundTrip).toEqual(report);
    expect(slack).toContain(report.findings.find((f) => f.severity === 'critical')?.index ?? report.findings[0]!.table);
    expect(chat.content.title).toContain(report.database);
  });

  it('returns every row exactly once through tiny pages', async () => {
    // Prepare: the reference is unpaged (every catalog query fits one page)
    const reference = await buildIndexHealthReportWithStats({ client: db.client, options: { ...OPTIONS, pageRows: 1_000_000, pageBytes: 1024 ** 3 } });

    // Act
    const paged = await buildIndexHealthReportWithStats({ client: db.client, options: { ...OPTIONS, pageRows: 2, pageBytes: 1 } });

    // Assess
    const { rows } = await db.client.query<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_index i
      JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'shop'`);
    expect(rows[0]!.n).toBeGreaterThan(10);
    expect(paged.roundTrips).toBeGreaterThan(rows[0]!.n);
    expect(reference.roundTrips).toBeLessThan(rows[0]!.n);
    const normalize = (findings: Finding[]) => findings.map(key).sort();
    expect(reference.report.findings.length).toBeGreaterThan(5);
    expect(paged.report.findings.length).toBe(reference.report.findings.length);
    expect(normalize(paged.report.findings)).toEqual(normalize(reference.report.findings));
    expect({ usage: paged.report.usage.length, unusedBySize: paged.report.unusedBySize.length }).toEqual({
      usage: reference.report.usage.length,
      unusedBySize: reference.report.unusedBySize.length,
    });
    expect(new Set(paged.report.findings.map(key)).size).toBe(paged.report.findings.length);
  });

  it('caps the monitoring views at viewLimit but keeps their real totals in omitted', async () => {
    // Prepare
    const full = await buildIndexHealthReport({ client: db.client, options: OPTIONS });

    // Act
    const capped = await buildIndexHealthReport({ client: db.client, options: { ...OPTIONS, viewLimit: 1 } });

    // Assess
    expect(full.usage.length).toBeGreaterThan(2);
    expect(full.omitted).toBeUndefined();
    expect(capped.usage).toEqual(full.usage.slice(0, 1));
    expect(capped.unusedBySize).toEqual(full.unusedBySize.slice(0, 1));
    expect(capped.omitted).toEqual({
      findings: 0,
      bySeverity: {},
      byKind: {},
      usageRows: full.usage.length - 1,
      unusedRows: Math.max(0, full.unusedBySize.length - 1),
    });
  });

  it('keys history by index identity: a recreated index with the same name starts over', async () => {
    // Prepare: idx_recreated has 20 days of zero-scan history, then is dropped and recreated
    await run('CREATE SCHEMA again', 'CREATE TABLE again.t (a int)', 'CREATE INDEX idx_recreated ON again.t (a)', 'ANALYZE again.t');
    const now = new Date();
    await takeUsageSnapshot({ client: db.client, now: new Date(now.getTime() - 20 * DAY) });
    await run('DROP INDEX again.idx_recreated', 'CREATE INDEX idx_recreated ON again.t (a)');
    await takeUsageSnapshot({ client: db.client, now: new Date(now.getTime() - DAY) });

    // Act
    const { report, pendingIndexes } = await buildIndexHealthReportWithStats({ client: db.client, options: OPTIONS, now });

    // Assess: the new identity has one day of history, so no verdict (and no finding) yet
    expect(report.findings.filter((f) => f.index === 'idx_recreated')).toEqual([]);
    expect(pendingIndexes).toContain('idx_recreated');
    const { rows } = await db.client.query<{ n: number }>(
      sql`SELECT count(DISTINCT (index_oid, def_hash))::int AS n FROM ${ledgerTable(LEDGER, 'snapshots')} WHERE index_name = 'idx_recreated'`,
    );
    expect(rows[0]!.n).toBe(2);
  });
});
