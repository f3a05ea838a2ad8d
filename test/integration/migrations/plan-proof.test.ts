import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, SqlQuery } from '../../../lambdas/core/db/sql.ts';
import { ValidationError } from '../../../lambdas/core/errors.ts';
import { buildIndexHealthReport } from '../../../lambdas/core/health/build-report.ts';
import { createIndex, defineMigration, sqlStep } from '../../../lambdas/core/migrations/model.ts';
import { checksum } from '../../../lambdas/core/migrations/loader.ts';
import { indexesInPlan, planRegressions, type PlanCheck } from '../../../lambdas/core/migrations/plan-proof.ts';
import type { SqlClient } from '../../../lambdas/core/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';
import { startTestDataApi, type TestDataApi } from '../../support/data-api.ts';
import { harness, uniqueName } from './helpers.ts';

/**
 * Plan proof: after a run's builds and ANALYZE, every `expect` of the migrations it applied is EXPLAINed
 * (generic plan), recorded in the ledger and returned; a regression later shows in the nightly report.
 */
function migrations(ns: string) {
  const base = defineMigration({
    revision: 'pp1',
    downRevision: null,
    description: 'orders with data, and a tiny table',
    risk: 'low',
    up: [
      sqlStep(`CREATE SCHEMA ${ns}`, { lock: 'none' }),
      sqlStep(`CREATE TABLE ${ns}.orders (id bigint PRIMARY KEY, user_id bigint NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, note text)`, { tables: [`${ns}.orders`] }),
      // 30k rows, 1000 users: 30 orders each; 3 statuses.
      sqlStep(
        `INSERT INTO ${ns}.orders SELECT g, g % 1000, (ARRAY['new', 'paid', 'sent'])[1 + g % 3], timestamptz '2025-01-01' + g * interval '1 minute', repeat('x', 40) FROM generate_series(1, 30000) g`,
        { lock: 'none', tables: [`${ns}.orders`] },
      ),
      sqlStep(`CREATE TABLE ${ns}.tiny (id int PRIMARY KEY, k int NOT NULL)`, { tables: [`${ns}.tiny`] }),
      sqlStep(`INSERT INTO ${ns}.tiny VALUES (1, 1), (2, 2), (3, 3)`, { lock: 'none', tables: [`${ns}.tiny`] }),
    ],
    down: { irreversible: 'test data' },
  });
  const indexes = defineMigration({
    revision: 'pp2',
    downRevision: 'pp1',
    description: 'indexes with what they are for',
    risk: 'low',
    up: [
      createIndex({ name: 'idx_orders_user_created', schema: ns, table: 'orders', columns: ['user_id', 'created_at DESC'] }),
      createIndex({ name: 'idx_orders_status', schema: ns, table: 'orders', columns: ['status'] }),
      createIndex({ name: 'idx_tiny_k', schema: ns, table: 'tiny', columns: ['k'] }),
      createIndex({ name: 'idx_orders_never', schema: ns, table: 'orders', columns: ['note'] }, { when: { extensionAvailable: 'offpeak_no_such_extension' } }),
    ],
    expect: [
      { name: 'orders by user', sql: `SELECT id, created_at FROM ${ns}.orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20`, params: [7], usesIndex: 'idx_orders_user_created', measure: true },
      { name: 'wrong index', sql: `SELECT id FROM ${ns}.orders WHERE user_id = $1`, usesIndex: `${ns}.idx_orders_status` },
      { name: 'tiny lookup', sql: `SELECT id FROM ${ns}.tiny WHERE k = 2`, usesIndex: 'idx_tiny_k' },
      // Parameterized: the generic plan (a prepared statement keeps its plan when settings change: each gets its own).
      { name: 'tiny lookup by param', sql: `SELECT id FROM ${ns}.tiny WHERE k = $1`, usesIndex: 'idx_tiny_k' },
      { name: 'broken sql', sql: `SELECT id FROM ${ns}.no_such_table WHERE x = 1`, usesIndex: 'idx_orders_status' },
      { name: 'never built', sql: `SELECT id FROM ${ns}.orders WHERE note = 'x'`, usesIndex: 'idx_orders_never' },
    ],
  });
  return [base, indexes];
}

describe('plan expectations (the model)', () => {
  const m = (expect: unknown) => () =>
    defineMigration({ revision: 'x1', downRevision: null, description: 'd', risk: 'low', up: [sqlStep('SELECT 1', { lock: 'none' })], down: { irreversible: 'x' }, expect: expect as never });

  it('refuses a bad expectation, naming the migration, the expectation and what to write', () => {
    expect(m([{ name: 'a', sql: 'DELETE FROM t', usesIndex: 'i' }])).toThrow(/migration "x1": expect\[0\] \("a"\): sql must be one read-only query/);
    expect(m([{ name: 'a', sql: 'SELECT 1', usesIndex: 'a.b.c' }])).toThrow(/usesIndex must name one index/);
    expect(m([{ name: 'a', sql: 'SELECT * FROM t WHERE a = $1 AND b = $2', params: [1], usesIndex: 'i' }])).toThrow(/sql takes 2 parameter\(s\) \(\$1…\$2\) but params has 1/);
    expect(m([{ name: 'a', sql: 'SELECT * FROM t WHERE a = $1', usesIndex: 'i', measure: true }])).toThrow(/measure runs the query .* needs params/);
    expect(m([{ name: 'a', sql: 'SELECT 1', usesIndex: 'i' }, { name: 'a', sql: 'SELECT 2', usesIndex: 'i' }])).toThrow(/the name is used twice/);
    expect(m([{ sql: 'SELECT 1', usesIndex: 'i' }])).toThrow(ValidationError);
    // '$1' inside a string literal is no parameter.
    expect(m([{ name: 'a', sql: "SELECT * FROM t WHERE a = '$1'", params: [], usesIndex: 'i' }])().expect[0]!.params).toEqual([]);
  });

  it('is not part of the checksum, like verify', () => {
    const a = m([{ name: 'a', sql: 'SELECT 1', usesIndex: 'i' }])();
    const b = m(undefined)();
    expect(b.expect).toEqual([]);
    expect(checksum(a)).toBe(checksum(b));
  });

  it('finds indexes at any depth of an EXPLAIN (FORMAT JSON) plan', () => {
    const plan = [{ Plan: { 'Node Type': 'Limit', Plans: [{ 'Node Type': 'BitmapAnd', Plans: [{ 'Node Type': 'Bitmap Index Scan', 'Index Name': 'a' }, { 'Node Type': 'Index Only Scan', 'Index Name': 'b' }] }] } }];
    expect(indexesInPlan(plan)).toEqual(['a', 'b']);
    expect(indexesInPlan(JSON.stringify(plan))).toEqual(['a', 'b']);
  });
});

/** The whole path: a run with every kind of outcome, the ledger's rows, then a dropped index in the nightly report. */
async function scenario(client: SqlClient, admin: SqlClient, kind: string): Promise<void> {
  // Prepare
  const ns = uniqueName('pp');
  const h = harness(client, migrations(ns));

  // Act
  const result = await h.migrator.runToCompletion('up', 'heads');

  // Assess: the run is done whatever the expectations found.
  expect(result.status).toBe('done');
  const by = new Map((result.planProof?.checks ?? []).map((c) => [c.name, c] as [string, PlanCheck]));
  expect([...by.keys()].sort()).toEqual(['broken sql', 'never built', 'orders by user', 'tiny lookup', 'tiny lookup by param', 'wrong index']);
  expect(by.get('orders by user')).toMatchObject({ outcome: 'held', usable: true, chosen: true, planKind: 'generic', table: `${ns}.orders` });
  expect(by.get('wrong index')).toMatchObject({ outcome: 'unusable', usable: false, chosen: false });
  expect(by.get('wrong index')!.reason).toMatch(/does not use .*idx_orders_status even with seq and bitmap scans off/);
  // 3 rows in one page: a seq scan is cheaper, but the index can serve the query.
  expect(by.get('tiny lookup')).toMatchObject({ outcome: 'not_chosen', usable: true, chosen: false, planKind: 'plain', tableRows: 3 });
  expect(by.get('tiny lookup')!.defaultPlan).toMatch(/^Seq Scan on tiny/);
  expect(by.get('tiny lookup by param')).toMatchObject({ outcome: 'not_chosen', usable: true, chosen: false, planKind: 'generic' });
  expect(by.get('broken sql')).toMatchObject({ outcome: 'error', usable: null, chosen: null });
  expect(by.get('broken sql')!.reason).toMatch(/migration pp2, expectation "broken sql": EXPLAIN failed: .*no_such_table/);
  expect(by.get('never built')).toMatchObject({ outcome: 'skipped' });
  expect(by.get('never built')!.reason).toMatch(/offpeak_no_such_extension/);

  // measure: EXPLAIN ANALYZE before the build (a seq scan of 30k rows) and after.
  const measure = by.get('orders by user')!.measure!;
  expect(measure.before?.ms).toBeGreaterThan(0);
  expect(measure.after?.ms).toBeGreaterThan(0);
  expect(measure.speedup).toMatch(/^\d+\.\dx$/);
  console.log(`[${kind}] orders by user: before ${measure.before?.ms} ms, after ${measure.after?.ms} ms, speed-up ${measure.speedup}`);

  // The ledger has them: one `before` row, six `after` rows.
  const { rows } = await admin.query<{ phase: string; name: string; outcome: string }>(sql`SELECT phase, name, outcome FROM ${sql.ident(h.ledger, 'plan_checks')} WHERE run_id = ${result.runId} ORDER BY phase, name`);
  expect(rows).toEqual([
    { phase: 'after', name: 'broken sql', outcome: 'error' },
    { phase: 'after', name: 'never built', outcome: 'skipped' },
    { phase: 'after', name: 'orders by user', outcome: 'held' },
    { phase: 'after', name: 'tiny lookup', outcome: 'not_chosen' },
    { phase: 'after', name: 'tiny lookup by param', outcome: 'not_chosen' },
    { phase: 'after', name: 'wrong index', outcome: 'unusable' },
    { phase: 'before', name: 'orders by user', outcome: 'measured' },
  ]);

  // Nothing regressed yet.
  expect(await planRegressions(client, h.ledger)).toEqual([]);

  // Act: the index is dropped behind offpeak's back.
  await admin.query(new SqlQuery([`DROP INDEX ${ns}.idx_orders_user_created`]));
  const report = await buildIndexHealthReport({ client, schema: h.ledger });

  // Assess: a plan_regression warning for the expectation that held; none for the ones that never did.
  const found = report.findings.filter((f) => f.kind === 'plan_regression');
  expect(found).toHaveLength(1);
  expect(found[0]).toMatchObject({ kind: 'plan_regression', severity: 'warning', schema: ns, table: 'orders', index: 'idx_orders_user_created' });
  expect(found[0]!.evidence).toMatch(/expectation "orders by user" of migration pp2 was usable when checked on \d{4}-\d\d-\d\d; now NOT USABLE: index idx_orders_user_created does not exist/);
}

// PGlite by default, PostgreSQL with TEST_DATABASE_URL.
describe('plan proof on a run', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  }, 60_000);
  afterAll(async () => {
    await db?.dispose();
  });

  it('records held, usable-not-chosen, unusable, error and skipped expectations without failing the run, measures, and the nightly report finds a dropped index', async () => {
    await scenario(db.client, db.client, db.kind);
  }, 120_000);

  it('reports a lost `chosen` as info when the index is still usable', async () => {
    // Prepare: a selective status index, chosen while one status is rare.
    const ns = uniqueName('pq');
    const h = harness(db.client, [
      defineMigration({
        revision: 'pq1',
        downRevision: null,
        description: 'events',
        risk: 'low',
        up: [
          sqlStep(`CREATE SCHEMA ${ns}`, { lock: 'none' }),
          sqlStep(`CREATE TABLE ${ns}.events (id bigint PRIMARY KEY, kind text NOT NULL, payload text)`, { tables: [`${ns}.events`] }),
          sqlStep(`INSERT INTO ${ns}.events SELECT g, CASE WHEN g % 1000 = 0 THEN 'rare' ELSE 'common' END, repeat('p', 30) FROM generate_series(1, 20000) g`, { lock: 'none', tables: [`${ns}.events`] }),
        ],
        down: { irreversible: 'test data' },
      }),
      defineMigration({
        revision: 'pq2',
        downRevision: 'pq1',
        description: 'index events by kind',
        risk: 'low',
        up: [createIndex({ name: 'idx_events_kind', schema: ns, table: 'events', columns: ['kind'] })],
        expect: [{ name: 'rare events', sql: `SELECT id FROM ${ns}.events WHERE kind = 'rare'`, usesIndex: 'idx_events_kind' }],
      }),
    ]);
    const result = await h.migrator.runToCompletion('up', 'heads');
    expect(result.planProof?.checks[0]).toMatchObject({ outcome: 'held', chosen: true });

    // Act: the data changes so that 'rare' is most rows, and the statistics say so.
    await db.client.query(new SqlQuery([`UPDATE ${ns}.events SET kind = 'rare'`]));
    await db.client.query(new SqlQuery([`ANALYZE ${ns}.events`]));
    const regressions = await planRegressions(db.client, h.ledger);
    const report = await buildIndexHealthReport({ client: db.client, schema: h.ledger });

    // Assess
    expect(regressions.map((r) => [r.baseline.name, r.lost, r.check.outcome])).toEqual([['rare events', 'chosen', 'not_chosen']]);
    expect(report.findings.filter((f) => f.kind === 'plan_regression').map((f) => [f.severity, f.index])).toEqual([['info', 'idx_events_kind']]);
  }, 120_000);
});

// The same through the local Data API server (real SDK client): one statement per call, transactions by id.
describe('plan proof through the Data API', () => {
  let api: TestDataApi;
  beforeAll(async () => {
    api = await startTestDataApi();
  }, 60_000);
  afterAll(async () => {
    await api?.dispose();
  });

  it('gives the same outcomes, measures, and finds the regression', async () => {
    await scenario(api.adapter(), api.db.client, `data-api over ${api.db.kind}`);
  }, 180_000);
});
