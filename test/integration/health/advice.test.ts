/**
 * Advice as a set, held against real usage. The schema gathers, in our own SQL, the cases
 * pg-index-health's and PgHero's test fixtures exercise (invalid index beside a duplicate, a
 * duplicate of a unique constraint, intersecting indexes, a foreign key without an index,
 * unused indexes) plus the ones the issue found them wrong or silent on (INCLUDE, DESC,
 * expression prefixes, NULLS NOT DISTINCT, partitions, a used index whose only cover is unused).
 *
 * Usage is real: a snapshot back-dated 20 days records the counters, then queries generate
 * index scans. The apply-all test applies every DROP the report gives, checks with EXPLAIN that
 * every lookup that used an index still does, that every foreign key keeps a supporting index,
 * then applies the restore script and compares the catalog with the original.
 */
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../../../lambdas/core/db/sql.ts';
import { buildIndexHealthReportWithStats, type BuiltReport } from '../../../lambdas/core/health/build-report.ts';
import { takeUsageSnapshot } from '../../../lambdas/core/health/snapshot.ts';
import type { Finding } from '../../../lambdas/core/health/report.ts';
import { adviceSection } from '../../../lambdas/core/render/advice.ts';
import { renderEmailText } from '../../../lambdas/core/render/email-text.ts';
import { parseReportJson, renderJson } from '../../../lambdas/core/render/report-json.ts';
import { createTestDatabase, type TestDatabase } from '../../support/database.ts';

const DAY = 86_400_000;

let db: TestDatabase;
let tablespace: string | null = null;
let tablespaceDir: string | null = null;

async function run(...statements: string[]): Promise<void> {
  for (const text of statements) await db.client.query(sql`${sql.raw(text)}`);
}

async function rows<T>(text: string): Promise<T[]> {
  return (await db.client.query<T & Record<string, unknown>>(sql`${sql.raw(text)}`)).rows;
}

/** Lookups the application makes; each one is run (to generate scans) and EXPLAINed. */
const LOOKUPS = [
  `SELECT id FROM oracle.clients WHERE last_name = 'n7'`,
  `SELECT id FROM oracle.clients WHERE last_name = 'n7' AND first_name = 'f3'`,
  `SELECT id FROM oracle.clients WHERE email = 'e5@example.com'`,
  `SELECT id FROM oracle.accounts WHERE account_number = 'acc-9'`,
  `SELECT c FROM oracle.orders WHERE a = 4`,
  `SELECT id FROM oracle.orders WHERE a = 4 AND b = 2`,
  `SELECT ts FROM oracle.events WHERE ts > '2026-01-01' ORDER BY ts DESC LIMIT 5`,
  `SELECT id FROM oracle.docs WHERE lower(title) = 't7'`,
  `SELECT id FROM oracle.docs WHERE lower(title) = 't7' AND body = 'zz'`,
  `SELECT id FROM oracle.items WHERE x = 3`,
  `SELECT v FROM oracle.measurements WHERE device_id = 2`,
];

/** Every FK (as declared), with whether each relation holding its rows has a valid index leading with its columns. */
async function foreignKeysSupported(): Promise<Map<string, boolean>> {
  const result = await rows<{ name: string; ok: boolean }>(`
    SELECT k.conname AS name, bool_and(EXISTS (
        SELECT 1 FROM pg_index x WHERE x.indrelid = r.relid AND x.indisvalid AND x.indpred IS NULL
          AND (SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_attribute a
               WHERE a.attrelid = r.relid AND a.attnum = ANY ((x.indkey::int2[])[0:cardinality(k.conkey) - 1]))
            = (SELECT array_agg(a.attname ORDER BY a.attname) FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey))
      )) AS ok
    FROM pg_constraint k
    JOIN pg_namespace n ON n.oid = k.connamespace AND n.nspname = 'oracle'
    CROSS JOIN LATERAL (SELECT relid FROM pg_partition_tree(k.conrelid) WHERE isleaf) r
    WHERE k.contype = 'f' AND k.conparentid = 0
    GROUP BY k.conname`);
  return new Map(result.map((r) => [r.name, r.ok]));
}

/** What a restore must bring back, per index name. */
async function catalogOf(names: string[]): Promise<Map<string, unknown>> {
  const list = names.map((n) => `'${n}'`).join(', ');
  const result = await rows<{ name: string } & Record<string, unknown>>(`
    SELECT c.relname AS name, pg_get_indexdef(c.oid) AS def, coalesce(t.spcname, '') AS tablespace,
      obj_description(c.oid, 'pg_class') AS comment, i.indisclustered AS clustered, i.indisvalid AS valid,
      (SELECT string_agg(a.attnum || ':' || a.attstattarget, ',' ORDER BY a.attnum) FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attstattarget IS NOT NULL AND a.attstattarget >= 0) AS stats
    FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'oracle'
    LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
    WHERE c.relname IN (${list})`);
  return new Map(result.map(({ name, ...rest }) => [name, rest]));
}

/** Runs `fn` on one connection with sequential scans off (these tables are small). */
async function withoutSeqscan<T>(fn: (q: (text: string) => Promise<Array<Record<string, unknown>>>) => Promise<T>): Promise<T> {
  return db.client.transaction(async (tx) => {
    const q = async (text: string) => (await tx.query<Record<string, unknown>>(sql`${sql.raw(text)}`)).rows;
    await q('SET LOCAL enable_seqscan = off');
    return fn(q);
  });
}

async function usesIndex(query: string): Promise<boolean> {
  return withoutSeqscan(async (q) => {
    const plan = await q(`EXPLAIN (FORMAT JSON) ${query}`);
    return /"Node Type": ?"(Index Scan|Index Only Scan|Bitmap Index Scan)"/.test(JSON.stringify(plan[0]!['QUERY PLAN'], null, 1));
  });
}

async function oracleScans(): Promise<number> {
  const [row] = await rows<{ n: number }>(`SELECT coalesce(sum(pg_stat_get_numscans(i.indexrelid)), 0)::int AS n
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'oracle'`);
  return row!.n;
}

/** A tablespace the server can use, when the server is local and this process may hand it a directory. */
function serverOwnedDir(): string | null {
  if (db.kind !== 'pg' || process.getuid?.() !== 0) return null;
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!entry) return null;
  const [, , uid, gid] = entry.split(':');
  const dir = mkdtempSync(join(tmpdir(), 'offpeak-ts-'));
  chownSync(dir, Number(uid), Number(gid));
  return dir;
}

function key(f: Finding): string {
  return `${f.kind} ${f.index ?? f.table}`;
}

let before: BuiltReport;

beforeAll(async () => {
  db = await createTestDatabase();
  await run(
    'CREATE SCHEMA oracle',
    // pg-index-health's clients/accounts shape
    'CREATE TABLE oracle.clients (id int PRIMARY KEY, last_name text, first_name text, email text, info text)',
    `CREATE TABLE oracle.accounts (id int PRIMARY KEY, client_id int REFERENCES oracle.clients, account_number text UNIQUE,
      balance numeric, deleted boolean)`,
    'CREATE INDEX idx_accounts_account_number ON oracle.accounts (account_number)', // duplicates the unique constraint
    'CREATE INDEX idx_clients_last_first ON oracle.clients (last_name, first_name)',
    'CREATE INDEX idx_clients_last_name ON oracle.clients (last_name)', // intersects the one above
    'CREATE INDEX idx_clients_email ON oracle.clients (email)', // the only valid index on email
    // INCLUDE: (a) INCLUDE (c) serves index-only scans (a, b) cannot
    'CREATE TABLE oracle.orders (id int PRIMARY KEY, a int, b int, c int)',
    'CREATE INDEX idx_orders_a_inc_c ON oracle.orders (a) INCLUDE (c)',
    'CREATE INDEX idx_orders_a_b ON oracle.orders (a, b)',
    // single-column DESC equals ASC
    'CREATE TABLE oracle.events (id int PRIMARY KEY, ts timestamptz)',
    'CREATE INDEX idx_events_ts ON oracle.events (ts)',
    'CREATE INDEX idx_events_ts_desc ON oracle.events (ts DESC)',
    // an expression list that prefixes another; with a comment, a CLUSTER mark and a statistics target to restore
    'CREATE TABLE oracle.docs (id int PRIMARY KEY, title text, body text)',
    'CREATE INDEX idx_docs_lower_title ON oracle.docs (lower(title))',
    'CREATE INDEX idx_docs_lower_title_body ON oracle.docs (lower(title), body)',
    `COMMENT ON INDEX oracle.idx_docs_lower_title IS 'title lookups; it''s case-insensitive'`,
    'ALTER TABLE oracle.docs CLUSTER ON idx_docs_lower_title',
    'ALTER INDEX oracle.idx_docs_lower_title ALTER COLUMN 1 SET STATISTICS 321',
    // NULLS NOT DISTINCT is not the same as a plain unique index
    'CREATE TABLE oracle.tags (id int PRIMARY KEY, name text)',
    'CREATE UNIQUE INDEX idx_tags_name_nnd ON oracle.tags (name) NULLS NOT DISTINCT',
    'CREATE UNIQUE INDEX idx_tags_name ON oracle.tags (name)',
    // a used index whose only cover is unused: the unused one goes, the used one stays
    'CREATE TABLE oracle.items (id int PRIMARY KEY, x int, pad text)',
    'CREATE INDEX idx_items_x ON oracle.items (x)',
    'CREATE INDEX idx_items_x_pad ON oracle.items (x, pad)',
    // partitions: a busy partitioned index, an unused identical one, an FK covered per partition, one not covered
    'CREATE TABLE oracle.devices (id int PRIMARY KEY)',
    'CREATE TABLE oracle.sensors (id int PRIMARY KEY)',
    `CREATE TABLE oracle.measurements (at date NOT NULL, device_id int REFERENCES oracle.devices, sensor_id int REFERENCES oracle.sensors,
      v int) PARTITION BY RANGE (at)`,
    `CREATE TABLE oracle.measurements_2025 PARTITION OF oracle.measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
    `CREATE TABLE oracle.measurements_2026 PARTITION OF oracle.measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
    'CREATE INDEX idx_measurements_device ON oracle.measurements (device_id)',
    'CREATE INDEX idx_measurements_device_copy ON oracle.measurements (device_id)',
    // a local index on one partition, identical to the attached one there: the local one is the one to go
    'CREATE INDEX idx_measurements_2025_device_local ON oracle.measurements_2025 (device_id)',
    // an invalid partitioned index: created ON ONLY the parent, no partition index attached yet
    'CREATE INDEX idx_measurements_sensor ON ONLY oracle.measurements (sensor_id)',
    `INSERT INTO oracle.clients SELECT g, 'n' || (g % 50), 'f' || (g % 7), 'e' || (g % 300) || '@example.com', 'x' FROM generate_series(1, 2000) g`,
    `INSERT INTO oracle.accounts SELECT g, 1 + g % 2000, 'acc-' || g, g, false FROM generate_series(1, 2000) g`,
    'INSERT INTO oracle.orders SELECT g, g % 100, g % 10, g FROM generate_series(1, 2000) g',
    `INSERT INTO oracle.events SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 2000) g`,
    `INSERT INTO oracle.docs SELECT g, 'T' || (g % 100), repeat(md5(g::text), 6) FROM generate_series(1, 2000) g`,
    `INSERT INTO oracle.tags SELECT g, 'tag' || g FROM generate_series(1, 200) g`,
    'INSERT INTO oracle.items SELECT g, g % 100, repeat(md5(g::text), 6) FROM generate_series(1, 2000) g',
    'INSERT INTO oracle.devices SELECT generate_series(1, 20)',
    'INSERT INTO oracle.sensors SELECT generate_series(1, 20)',
    `INSERT INTO oracle.measurements SELECT '2025-06-01'::date + (g % 400), 1 + g % 20, 1 + g % 20, g FROM generate_series(1, 2000) g`,
  );
  // pg-index-health's invalid case: a unique index over duplicate emails fails, beside the valid plain one
  await expect(run('CREATE UNIQUE INDEX CONCURRENTLY idx_clients_email_uniq ON oracle.clients (email)')).rejects.toThrow(/could not create unique index|duplicate/);
  tablespaceDir = serverOwnedDir();
  if (tablespaceDir !== null) {
    tablespace = `offpeak_ts_${process.pid}`;
    await run(`CREATE TABLESPACE ${tablespace} LOCATION '${tablespaceDir}'`, `ALTER INDEX oracle.idx_items_x_pad SET TABLESPACE ${tablespace}`);
  } else {
    process.stdout.write(`advice.test: no server-owned directory on ${db.kind}; the TABLESPACE restore is checked on local PostgreSQL run as root only\n`);
  }
  for (const table of ['clients', 'accounts', 'orders', 'events', 'docs', 'tags', 'items', 'devices', 'sensors', 'measurements']) {
    await run(`VACUUM ANALYZE oracle.${table}`); // VACUUM: the visibility map lets (a) INCLUDE (c) serve index-only scans
  }

  // History: the counters as of 20 days ago, then real lookups (seqscan off: these tables are small).
  const now = Date.now();
  await takeUsageSnapshot({ client: db.client, now: new Date(now - 20 * DAY) });
  const scansBefore = await oracleScans();
  await withoutSeqscan(async (q) => {
    for (let round = 0; round < 3; round++) {
      for (const lookup of LOOKUPS) await q(lookup);
    }
    await q('SELECT pg_stat_force_next_flush()');
  });
  // Counters are published when that backend goes idle: wait for them (generously: the machine is loaded).
  const deadline = Date.now() + 60_000;
  while ((await oracleScans()) < scansBefore + 3 * LOOKUPS.length) {
    if (Date.now() > deadline) throw new Error('index scans were not published within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  before = await buildIndexHealthReportWithStats({ client: db.client, now: new Date(now) });
});

afterAll(async () => {
  if (tablespace !== null) {
    await run(`DROP SCHEMA oracle CASCADE`, `DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
  }
  await db?.dispose();
  if (tablespaceDir !== null) rmSync(tablespaceDir, { recursive: true, force: true });
});

describe('index advice as a set, on pg-index-health and PgHero style fixtures with real usage', () => {
  it('reports what the oracle schema holds, once each', () => {
    const oracle = before.report.findings.filter((f) => f.schema === 'oracle' && f.kind !== 'stale_stats' && f.table !== 'events'
      && f.index !== 'idx_measurements_2025_device_local');
    const byKey = new Map(oracle.map((f) => [key(f), f]));
    expect([...byKey.keys()].sort()).toEqual([
      'duplicate idx_accounts_account_number',
      'duplicate idx_measurements_device_copy',
      'fk_without_index accounts',
      'fk_without_index measurements',
      'invalid idx_clients_email_uniq',
      'invalid idx_measurements_sensor',
      'overlapping idx_clients_last_name',
      'overlapping idx_docs_lower_title',
      'unused idx_items_x_pad',
    ]);
    expect(oracle).toHaveLength(byKey.size);
    // (ts) and (ts DESC) are one index read both ways: exactly one of them goes, whichever the planner left idle
    const events = before.report.findings.filter((f) => f.table === 'events' && f.kind !== 'stale_stats');
    expect(events).toHaveLength(1);
    expect(['duplicate', 'unused']).toContain(events[0]!.kind);
    expect(events[0]!.suggestion).not.toBeNull();
  });

  it('never keeps an invalid index as the canonical copy, and describes it as what it is', () => {
    const invalid = before.report.findings.find((f) => f.index === 'idx_clients_email_uniq')!;
    expect(invalid.evidence).toMatch(/^INVALID and not ready: .*enforces nothing, costs nothing on writes/);
    expect(invalid.suggestion?.drop).toBe('DROP INDEX CONCURRENTLY IF EXISTS oracle.idx_clients_email_uniq');
    expect(before.report.findings.filter((f) => f.index === 'idx_clients_email')).toEqual([]);
  });

  it('keeps (a) INCLUDE (c) beside (a, b), the used index over its unused cover, and NULLS NOT DISTINCT apart', () => {
    const names = new Set(before.report.findings.map((f) => f.index));
    expect(names.has('idx_orders_a_inc_c')).toBe(false);
    expect(names.has('idx_items_x')).toBe(false);
    expect(names.has('idx_tags_name')).toBe(false);
    expect(names.has('idx_tags_name_nnd')).toBe(false);
  });

  it('advises partitioned indexes with the statement PostgreSQL accepts and sums their partitions\' usage', () => {
    const copy = before.report.findings.find((f) => f.index === 'idx_measurements_device_copy')!;
    expect(copy.suggestion?.drop).toBe('DROP INDEX IF EXISTS oracle.idx_measurements_device_copy');
    expect(copy.suggestion?.restore).toBe('CREATE INDEX IF NOT EXISTS idx_measurements_device_copy ON oracle.measurements USING btree (device_id)');
    expect(copy.evidence).toContain('ACCESS EXCLUSIVE lock on the partitioned table and every partition');
    // no finding names an index attached to a partitioned one; the local duplicate on a partition is the one advised
    expect(before.report.findings.filter((f) => /measurements_20/.test(f.index ?? '') && f.index !== 'idx_measurements_2025_device_local')).toEqual([]);
    const local = before.report.findings.filter((f) => f.index === 'idx_measurements_2025_device_local');
    expect(local).toHaveLength(1);
    expect(['duplicate', 'unused']).toContain(local[0]!.kind);
    expect(local[0]!.suggestion?.drop).toBe('DROP INDEX CONCURRENTLY IF EXISTS oracle.idx_measurements_2025_device_local');
    const sensor = before.report.findings.find((f) => f.index === 'idx_measurements_sensor')!;
    expect(sensor.evidence).toContain('oracle.measurements_2025, oracle.measurements_2026');
    expect(sensor.evidence).toContain('ATTACH PARTITION');
    expect(sensor.suggestion).toBeNull();
    const fk = before.report.findings.filter((f) => f.kind === 'fk_without_index' && f.table === 'measurements');
    expect(fk).toHaveLength(1);
    expect(fk[0]!.evidence).toContain('measurements_sensor_id_fkey');
  });

  it('says on day one what has no verdict yet, without counting it as findings', async () => {
    const fresh = await buildIndexHealthReportWithStats({ client: db.client, now: new Date(Date.now() - 20 * DAY + 3_600_000) });
    const email = renderEmailText(parseReportJson(renderJson(fresh.report)));
    expect(fresh.report.findings.filter((f) => f.kind === 'unused')).toEqual([]);
    expect(fresh.report.pending?.indexes).toBeGreaterThan(0);
    expect(email).toMatch(/Usage history: +usage snapshots since \d{4}-\d\d-\d\d [\d:]+ UTC \([^)]+\); \d+ index(es)? without usage history yet \(first verdict on \d{4}-\d\d-\d\d\)/);
  });

  it('applies every DROP: each lookup still uses an index and each FK keeps one; the restore script brings back the catalog', async () => {
    // Prepare
    const advice = adviceSection(before.report.findings.filter((f) => f.schema === 'oracle'));
    const dropped = before.report.findings.filter((f) => f.schema === 'oracle' && f.suggestion !== null).map((f) => f.index!);
    expect(advice.drop.length).toBe(dropped.length);
    expect(advice.drop.length).toBeGreaterThanOrEqual(6);
    const fkBefore = await foreignKeysSupported();
    const original = await catalogOf(dropped);
    expect(original.get('idx_docs_lower_title')).toMatchObject({ clustered: true, stats: '1:321', comment: "title lookups; it's case-insensitive" });
    for (const lookup of LOOKUPS) expect(await usesIndex(lookup), lookup).toBe(true);

    // Act: every DROP, as the report gives it
    for (const statement of advice.drop) await run(statement);

    // Assess
    for (const lookup of LOOKUPS) expect(await usesIndex(lookup), `after the drops: ${lookup}`).toBe(true);
    const fkAfter = await foreignKeysSupported();
    for (const [name, ok] of fkBefore) if (ok) expect(fkAfter.get(name), name).toBe(true);
    expect((await catalogOf(dropped)).size).toBe(0);

    // Act: the restore script, statement by statement
    for (const script of advice.restore) {
      for (const statement of script.split(';\n')) {
        // the failed unique build fails again, leaving the same invalid index: that is its restore
        await run(statement).catch((error: Error) => {
          if (!statement.includes('idx_clients_email_uniq')) throw error;
        });
      }
    }

    // Assess: the same catalog, tablespace, comment, CLUSTER mark and statistics targets included
    const restored = await catalogOf(dropped);
    expect(restored).toEqual(original);
    if (tablespace !== null) expect(restored.get('idx_items_x_pad')).toMatchObject({ tablespace });
  });

  it('describes a ready-but-not-valid index as maintained on writes and serving no query', async () => {
    // Prepare: the state a CREATE INDEX CONCURRENTLY leaves when it fails in its validation phase (ready, not valid)
    await run('CREATE SCHEMA ready', 'CREATE TABLE ready.t (a int)', 'CREATE UNIQUE INDEX idx_ready_a ON ready.t (a)',
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ready.idx_ready_a'::regclass`);

    // Act
    const { report } = await buildIndexHealthReportWithStats({ client: db.client });

    // Assess: reported as invalid (not as backing uniqueness), with drop advice
    const finding = report.findings.find((f) => f.index === 'idx_ready_a')!;
    expect(finding.kind).toBe('invalid');
    expect(finding.evidence).toMatch(/^INVALID but ready: .*maintained on every write \(and checks new rows for uniqueness\) but serves no query/);
    expect(finding.suggestion?.drop).toBe('DROP INDEX CONCURRENTLY IF EXISTS ready.idx_ready_a');
  });
});
